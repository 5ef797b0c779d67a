import { describe, expect, it } from 'vitest';
import { cleanClipText, fixText, whitespaceClean } from '../../src/models/textCleaning.ts';
import { unescapeHtml } from '../../src/models/textCleaningHtml.ts';
import { fixEncoding } from '../../src/models/textCleaningMojibake.ts';

// Expected values are ftfy 6.1.1's documented behaviour (its docs and docstrings use several of these).
describe('ftfy subset: fixText', () => {
  it('repairs UTF-8 read as Windows-1252 or Latin-1', () => {
    expect(fixText('mojibake cafÃ©')).toBe('mojibake café');
    expect(fixText('âœ” No problems')).toBe('✔ No problems');
    expect(fixText('This â€” should be an em dash')).toBe('This — should be an em dash');
    expect(fixText('Ãºnico')).toBe('único');
  });

  it('undoes several layers of mojibake', () => {
    expect(fixText('The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.')).toBe(
      "The Mona Lisa doesn't have eyebrows.",
    );
  });

  it('repairs mojibake embedded in text that is not all Latin-1 (decode_inconsistent_utf8)', () => {
    expect(fixText('🐱 cafÃ© crÃ¨me')).toBe('🐱 café crème');
  });

  it('leaves correct text alone', () => {
    for (const text of [
      'naïve résumé Ångström straße',
      'café crème brûlée',
      '日本の猫',
      'Привет мир',
      '👍🏽 ❤️',
    ]) {
      expect(fixText(text)).toBe(text);
    }
    expect(fixEncoding('This text is fine already :þ')).toBe('This text is fine already :þ');
    // An accented capital before closing punctuation is not taken as mojibake (É… would be Ʌ).
    expect(fixEncoding('IL Y MARQUÉ…')).toBe('IL Y MARQUÉ…');
    expect(fixText('CAFÉ’S MENU')).toBe("CAFÉ'S MENU");
  });

  it('reads C1 controls as Windows-1252', () => {
    expect(fixText('This text was never UTF-8 at all\x85')).toBe('This text was never UTF-8 at all…');
  });

  it('decodes HTML entities unless a "<" appeared', () => {
    expect(fixText('fish &amp; chips')).toBe('fish & chips');
    expect(fixText('&lt;tag&gt;')).toBe('<tag>');
    expect(fixText('<b>fish &amp; chips</b>')).toBe('<b>fish &amp; chips</b>');
    // The switch-off lasts for the rest of the text, but not for the lines before the '<'.
    expect(fixText('a &amp; b\n<i>\nc &amp; d')).toBe('a & b\n<i>\nc &amp; d');
    // fix_text repeats until stable, so double escaping is undone too.
    expect(fixText('&amp;amp;')).toBe('&');
  });

  it('follows unescape_html rules for names and numbers', () => {
    expect(unescapeHtml('&EACUTE; &eacute; &Eacute; &#233; &#xE9; &#XE9;')).toBe('É é É é é é');
    expect(unescapeHtml('&nbsp;&hellip;&NotAnEntity; &amp')).toBe('\u00a0…&NotAnEntity; &amp');
    expect(unescapeHtml('&#59; &#0; &#128; &#x1F600; &#1114112; &#7;')).toBe('&#59; \ufffd € 😀 \ufffd ');
  });

  it('breaks Latin ligatures and digraphs', () => {
    expect(fixText('ﬁne ﬂower ﬀ ĳs ǆ')).toBe('fine flower ff ijs dž');
  });

  it('makes fullwidth and halfwidth forms standard width', () => {
    expect(fixText('ＡＢＣ１２３！\u3000ｱｲｳ')).toBe('ABC123! アイウ');
  });

  it('straightens curly quotes', () => {
    expect(fixText('\u201chere\u2019s a test\u201d \u2018x\u2019 it\u02bcs')).toBe(
      "\"here's a test\" 'x' it's",
    );
  });

  it('removes control characters and terminal escapes, keeps whitespace controls', () => {
    expect(fixText('a\u0000b\u0007c\ufeffd\u206ae\ufffcf')).toBe('abcdef');
    expect(fixText('\x1b[36;44mblue\x1b[0m')).toBe('blue');
    expect(fixText('a\tb\nc')).toBe('a\tb\nc');
    expect(fixText('a\u200db')).toBe('a\u200db');
  });

  it('normalises line breaks and composes to NFC', () => {
    expect(fixText('a\r\nb\rc\u2028d')).toBe('a\nb\nc\nd');
    expect(fixText('cafe\u0301')).toBe('café');
  });
});

describe('whitespace_clean and lower-casing', () => {
  it("collapses Python's whitespace set, not JavaScript's", () => {
    expect(whitespaceClean('  a \t\n b\u001c\u0085c\u3000\u00a0d  ')).toBe('a b c d');
    expect(whitespaceClean('a\ufeffb')).toBe('a\ufeffb');
  });

  it('cleans as CLIP does before BPE', () => {
    expect(cleanClipText('  A   RED \t CAR ')).toBe('a red car');
    expect(cleanClipText('It\u2019s ＣＡＦÃ©')).toBe("it's café");
  });
});
