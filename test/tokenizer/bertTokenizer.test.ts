import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BertTokenizer } from '../../src/models/bertTokenizer.ts';
import { parseVocabTxt } from '../../src/models/bertTokenizerFiles.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';

const EVAL = join(FIXTURES, 'eval');
const BLIP_CAPTION = join(EVAL, 'blip-caption-tiny');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

interface BertCase {
  text: string;
  input_ids: number[];
  attention_mask: number[];
  tokens: string[];
  n_ids: number;
  input_ids_truncation_true: number[] | 'same';
  decode_skip_special: string;
  input_ids_lavis_tokenizer: number[] | 'same';
}

const SPEC = readJson(join(EVAL, 'specs', 'bert_tokenization.json'));
const GOLDEN = readJson(join(EVAL, SPEC.inputs.file));
const CASES: BertCase[] = GOLDEN.cases;
const MANIFEST = readJson(join(EVAL, 'golden', 'manifest.json'));

let hf: BertTokenizer;
let lavis: BertTokenizer;
beforeAll(async () => {
  hf = await BertTokenizer.fromFolder(join(EVAL, SPEC.model));
  lavis = await BertTokenizer.fromFolder(join(EVAL, SPEC.model), { lavisSpecialTokens: true });
});

/** A tokenizer.json like the one transformers' BertConverter writes (TemplateProcessing post-processor). */
function convertedTokenizerJson(): unknown {
  const vocab = parseVocabTxt(readFileSync(join(BLIP_CAPTION, 'vocab.txt'), 'utf8'), BLIP_CAPTION);
  const special = (content: string) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map(special),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

describe('BertTokenizer on the golden strings (transformers 4.33 slow BertTokenizer)', () => {
  it('has the 40 cases the spec names, and the BLIP special ids', () => {
    expect(SPEC.expected.fields).toEqual(['input_ids', 'tokens']);
    expect(CASES).toHaveLength(40);
    expect(hf.vocabSize).toBe(GOLDEN.vocab_size);
    for (const [token, id] of Object.entries(GOLDEN.special_ids as Record<string, number>)) {
      expect(hf.tokenToId(token)).toBe(id);
    }
    expect([hf.padTokenId, hf.unkTokenId, hf.clsTokenId, hf.sepTokenId, hf.maskTokenId]).toEqual([
      0, 100, 101, 102, 103,
    ]);
    expect([hf.decTokenId, hf.encTokenId]).toEqual([30522, 30523]);
    expect(hf.modelMaxLength).toBe(512);
  });

  it.each(CASES.map((c, i) => [i, c] as const))('case %i: ids, tokens, mask and decode', (_, c) => {
    const { inputIds, tokens } = hf.encodeWithTokens(c.text);
    expect(inputIds).toEqual(c.input_ids);
    expect(tokens).toEqual(c.tokens);
    expect(inputIds).toHaveLength(c.n_ids);
    expect(hf.encodeBatch([c.text]).attentionMask[0]).toEqual(c.attention_mask);
    expect(hf.decode(c.input_ids, { skipSpecialTokens: true })).toBe(c.decode_skip_special);
    const truncated = c.input_ids_truncation_true === 'same' ? c.input_ids : c.input_ids_truncation_true;
    expect(hf.encode(c.text, { truncation: true })).toEqual(truncated);
    const lavisIds = c.input_ids_lavis_tokenizer === 'same' ? c.input_ids : c.input_ids_lavis_tokenizer;
    expect(lavis.encode(c.text)).toEqual(lavisIds);
  });

  it('truncates only the 602-id string, to 512 ids ending in [SEP]', () => {
    const changed = CASES.filter((c) => c.input_ids_truncation_true !== 'same');
    expect(changed).toHaveLength(1);
    const ids = hf.encode(changed[0]!.text, { truncation: true });
    expect(changed[0]!.n_ids).toBe(602);
    expect(ids).toHaveLength(512);
    expect(ids.at(-1)).toBe(102);
    // Without truncation (BlipProcessor's default) nothing is cut.
    expect(hf.encode(changed[0]!.text)).toHaveLength(602);
    expect(hf.encode('a cat and a dog', { truncation: true, maxLength: 4 })).toEqual([101, 1037, 4937, 102]);
    expect(hf.encode('a cat and a dog', { addSpecialTokens: false, truncation: true, maxLength: 2 })).toEqual(
      [1037, 4937],
    );
  });

  it('pads a batch to its longest text (padding=True) and to max_length 35', () => {
    const batch = GOLDEN.padding_true_example;
    expect(hf.encodeBatch(batch.texts, { padding: true })).toEqual({
      inputIds: batch.input_ids,
      attentionMask: batch.attention_mask,
    });
    const single = GOLDEN.max_length_35_example;
    expect(hf.encodeBatch([single.text], { padding: 'max_length', maxLength: 35 })).toEqual({
      inputIds: [single.input_ids],
      attentionMask: [single.attention_mask],
    });
  });

  it('pads the VQA batch questions as BlipProcessor does', () => {
    const batch = MANIFEST.blip_vqa.vqa_batch;
    expect(hf.encodeBatch(batch.questions).inputIds).toEqual(batch.input_ids);
  });

  it('gives the same results from a tokenizer.json as from vocab.txt', async () => {
    const folder = tempDir('dnb-bert-');
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(convertedTokenizerJson()));
    writeFileSync(
      join(folder, 'tokenizer_config.json'),
      readFileSync(join(BLIP_CAPTION, 'tokenizer_config.json')),
    );
    const fromJson = await BertTokenizer.fromFolder(folder);
    const fromJsonLavis = await BertTokenizer.fromFolder(folder, { lavisSpecialTokens: true });
    for (const c of CASES) {
      expect(fromJson.encodeWithTokens(c.text)).toEqual({ inputIds: c.input_ids, tokens: c.tokens });
      expect(fromJson.decode(c.input_ids, { skipSpecialTokens: true })).toBe(c.decode_skip_special);
      const truncated = c.input_ids_truncation_true === 'same' ? c.input_ids : c.input_ids_truncation_true;
      expect(fromJson.encode(c.text, { truncation: true })).toEqual(truncated);
      const lavisIds = c.input_ids_lavis_tokenizer === 'same' ? c.input_ids : c.input_ids_lavis_tokenizer;
      expect(fromJsonLavis.encode(c.text)).toEqual(lavisIds);
    }
    expect([fromJson.decTokenId, fromJson.encTokenId]).toEqual([30522, 30523]);
  });
});

describe('BertTokenizer.decode on the BLIP generations (manifest)', () => {
  interface Generation {
    ids: number[];
    text: string;
    text_slow_hf_tokenizer_raw: string;
  }
  const generations: Generation[] = [];
  for (const runs of MANIFEST.blip_caption.caption_runs) {
    for (const [key, run] of Object.entries(runs)) if (key !== 'image') generations.push(run as Generation);
  }
  generations.push(...MANIFEST.blip_vqa.vqa_runs);

  it('decodes every caption and answer with [DEC] skipped (LAVIS), and raw with [DEC] shown', () => {
    expect(generations).toHaveLength(5 * 4 + 2 + 20);
    for (const g of generations) {
      expect(hf.decode(g.ids, { skipSpecialTokens: true })).toBe(g.text);
      // transformers' slow tokenizer of the HF files has no [DEC]: it prints [UNK] where LAVIS's prints [DEC].
      expect(g.ids[0]).toBe(30522);
      expect(hf.decode(g.ids)).toBe(g.text_slow_hf_tokenizer_raw.replace(/^\[UNK\]/, '[DEC]'));
    }
    const batch = MANIFEST.blip_vqa.vqa_batch;
    expect(batch.ids.map((ids: number[]) => hf.decode(ids, { skipSpecialTokens: true }))).toEqual(
      batch.texts,
    );
  });

  it('keeps a leading ##piece, glues later ones, and cleans up spaces before punctuation', () => {
    const ids = (...tokens: string[]) => tokens.map((t) => hf.tokenToId(t)!);
    expect(hf.decode(ids('##us', '##s', 'association', '##ian'))).toBe('##uss associationian');
    expect(
      hf.decode(ids('don', "'", 't', 'stop', '.', 'it', "'", 's', 'ok', '!', 'i', "'", 'm', 'here', '?')),
    ).toBe("don't stop. it's ok! i'm here?");
    expect(hf.decode(ids('a', ',', 'b', '.'), { cleanUpTokenizationSpaces: false })).toBe('a , b .');
    expect(hf.decode([])).toBe('');
    expect(hf.decode([101, 102], { skipSpecialTokens: true })).toBe('');
    expect(hf.decode([30522, 1037, 30523, 102])).toBe('[DEC] a [ENC] [SEP]');
    // An id outside the vocabulary and the BLIP rows reads as [UNK], kept when skipping (slow tokenizer).
    expect(hf.decode([1037, 40000, 100], { skipSpecialTokens: true })).toBe('a [UNK]');
  });
});

describe('BertTokenizer where the library differs from BERT', () => {
  it('splits CJK ideographs outside the BMP off their neighbours, as _tokenize_chinese_chars does', () => {
    // U+20000 is in BERT's CJK Extension B range; the library tests UTF-16 units and would make "a𠀀b" one [UNK].
    expect(hf.encode('a\u{20000}b')).toEqual(hf.encode('a \u{20000} b'));
    expect(hf.encode('a\u{20000}b')).toEqual([101, 1037, 100, 1038, 102]);
  });

  it('drops unassigned code points, as _clean_text drops every "C*" category', () => {
    // U+0378 is unassigned (Cn): BERT removes it, so "ca\u0378t" is "cat".
    expect(hf.encode('ca\u0378t')).toEqual(hf.encode('cat'));
  });

  it('reads vocab.txt lines as Python text mode does (\\r\\n and a lone \\r end a line)', () => {
    expect(parseVocabTxt('a\r\nb\rc\n', 'x')).toEqual(
      Object.assign(Object.create(null), { a: 0, b: 1, c: 2 }),
    );
  });
});

describe('BertTokenizer refuses bad input with a UserError', () => {
  it('a folder without tokenizer.json or vocab.txt', async () => {
    const folder = tempDir('dnb-bert-');
    writeFileSync(join(folder, 'tokenizer_config.json'), '{}');
    const error = await userErrorOf(BertTokenizer.fromFolder(folder));
    expect(error.message).toContain('has neither tokenizer.json nor vocab.txt');
    expect(error.message).toContain(folder);
  });

  it('a folder that does not exist', async () => {
    const error = await userErrorOf(BertTokenizer.fromFolder(join(tempDir('dnb-bert-'), 'missing')));
    expect(error.message).toContain('does not exist');
  });

  it('a tokenizer.json that is not JSON, not WordPiece, or lacks the special tokens', async () => {
    const folder = tempDir('dnb-bert-');
    const write = (text: string) => writeFileSync(join(folder, 'tokenizer.json'), text);
    write('{"model": ');
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toMatch(
      /tokenizer\.json is malformed: not valid JSON/,
    );
    write(JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] } }));
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain('needs "WordPiece"');
    write(JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 0 }, unk_token: '[UNK]' } }));
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain(
      'the cls token "[CLS]" is not in it',
    );
    write(JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 'zero' }, unk_token: '[UNK]' } }));
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain('has id "zero"');
  });

  it('an empty vocab.txt, one without the special tokens, and unsupported settings', async () => {
    const folder = tempDir('dnb-bert-');
    writeFileSync(join(folder, 'vocab.txt'), '');
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain(
      'vocab.txt is malformed: it is empty',
    );
    writeFileSync(join(folder, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n');
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain(
      'the mask token "[MASK]"',
    );
    writeFileSync(join(folder, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n');
    writeFileSync(join(folder, 'tokenizer_config.json'), '{"do_basic_tokenize": false}');
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain(
      '"do_basic_tokenize": false',
    );
    writeFileSync(join(folder, 'tokenizer_config.json'), '{"do_lower_case": "yes"}');
    expect((await userErrorOf(BertTokenizer.fromFolder(folder))).message).toContain(
      '"do_lower_case" should be',
    );
  });

  it('a tiny vocabulary folder works, and a maxLength with no room for the text is refused', async () => {
    const folder = join(tempDir('dnb-bert-'), 'tiny');
    mkdirSync(folder);
    writeFileSync(join(folder, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncat\n##s\n');
    const tiny = await BertTokenizer.fromFolder(folder);
    expect(tiny.encode('Cats dog')).toEqual([2, 5, 6, 1, 3]);
    expect([tiny.decTokenId, tiny.encTokenId]).toEqual([7, 8]);
    expect(() => tiny.encode('cat', { truncation: true, maxLength: 2 })).toThrow(
      /maxLength must be an integer above 2/,
    );
    expect(() => tiny.encodeBatch(['cat', 'cats cats'], { padding: false })).toThrow(/padding is off/);
    expect(() => tiny.encodeBatch(['cat', 'cats cats'], { padding: 'max_length', maxLength: 3 })).toThrow(
      /more than maxLength 3/,
    );
  });
});
