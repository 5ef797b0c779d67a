/**
 * A pickle reader that never runs code: a stack machine for the opcodes of protocols 2 to 5 that build
 * plain data (numbers, strings, bytes, lists, tuples, dicts). Whatever a pickle imports (GLOBAL,
 * STACK_GLOBAL), calls (REDUCE), builds (BUILD) or loads by persistent id (BINPERSID) is handed to a policy,
 * which decides what the names mean and refuses everything else. Opcodes that instantiate arbitrary
 * classes (INST, OBJ, NEWOBJ, EXT*) are refused outright.
 *
 * Python's own pickletools.py documents every opcode; this reads the subset `torch.save` writes and the
 * protocol 4/5 framing opcodes, which cost nothing.
 */

/** A Python tuple (kept apart from lists, which become arrays). */
export class PickleTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** Dict keys the reader accepts: Python str, int, bool and None keys. */
export type PickleKey = string | number | boolean | null;

/** What the pickle's imports, calls and persistent ids may become; every method may refuse by throwing. */
export interface PicklePolicy {
  /** The object `module.name` stands for (GLOBAL, STACK_GLOBAL). */
  global(module: string, name: string): unknown;
  /** The result of calling `callable` (something `global` returned) with `args` (REDUCE). */
  reduce(callable: unknown, args: PickleTuple): unknown;
  /** `target` after `target.__setstate__(state)` (BUILD). */
  build(target: unknown, state: unknown): unknown;
  /** The object a persistent id names (BINPERSID). */
  persistentLoad(pid: unknown): unknown;
}

/** A refusal or a malformed pickle; the caller adds which file it is. */
export class PickleError extends Error {
  override name = 'PickleError';
}

/** Opcodes that are valid pickle but create objects of arbitrary classes; named in the refusal. */
const REFUSED_OPCODES: Record<number, string> = {
  105: 'INST',
  111: 'OBJ',
  129: 'NEWOBJ',
  146: 'NEWOBJ_EX',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  80: 'PERSID',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

/** Runs the pickle in `bytes` to its STOP and returns the object it built. */
export function unpickle(bytes: Uint8Array, policy: PicklePolicy): unknown {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;

  const need = (n: number, what: string): number => {
    if (at + n > data.length) throw new PickleError(`the pickle is truncated (in ${what} at byte ${at})`);
    const start = at;
    at += n;
    return start;
  };
  const u8 = () => data[need(1, 'an argument')]!;
  const u16 = () => data.readUInt16LE(need(2, 'an argument'));
  const u32 = () => data.readUInt32LE(need(4, 'an argument'));
  const u64 = () => toSafeInteger(data.readBigUInt64LE(need(8, 'an argument')));
  const text = (n: number) => data.toString('utf8', need(n, 'a string'), at);
  const latin1 = (n: number) => data.toString('latin1', need(n, 'a string'), at);
  const raw = (n: number) => new Uint8Array(data.subarray(need(n, 'bytes'), at));
  const line = (): string => {
    const end = data.indexOf(0x0a, at);
    if (end < 0) throw new PickleError(`the pickle is truncated (in a GLOBAL name at byte ${at})`);
    const value = data.toString('utf8', at, end);
    at = end + 1;
    return value;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length === marks[marks.length - 1])) {
      throw new PickleError(`the pickle pops an empty stack at byte ${at}`);
    }
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new PickleError(`the pickle reads an empty stack at byte ${at}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) throw new PickleError(`the pickle has no MARK for the opcode at byte ${at - 1}`);
    return stack.splice(mark);
  };
  const memoGet = (key: number): unknown => {
    if (!memo.has(key)) throw new PickleError(`the pickle reads memo entry ${key}, which was never stored`);
    return memo.get(key);
  };
  const dictOf = (value: unknown): Map<PickleKey, unknown> => {
    if (!(value instanceof Map)) throw new PickleError(`the pickle sets items on a ${typeName(value)}`);
    return value;
  };
  const listOf = (value: unknown): unknown[] => {
    if (!Array.isArray(value)) throw new PickleError(`the pickle appends to a ${typeName(value)}`);
    return value;
  };
  const setItems = (dict: Map<PickleKey, unknown>, items: unknown[]) => {
    if (items.length % 2 !== 0) throw new PickleError('the pickle has a key without a value');
    for (let i = 0; i < items.length; i += 2) dict.set(keyOf(items[i]), items[i + 1]);
  };

  for (;;) {
    const position = at;
    const opcode = data[need(1, 'an opcode')]!;
    switch (opcode) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError('the pickle uses a protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix for protocol 4 framing, nothing to do
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length > 0) {
          throw new PickleError('the pickle ends with a malformed stack');
        }
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(data.readInt32LE(need(4, 'an argument')));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianSigned(raw(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(littleEndianSigned(raw(u32())));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(data.readDoubleBE(need(8, 'an argument')));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x55: // SHORT_BINSTRING (a Python 2 str)
        stack.push(latin1(u8()));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(raw(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PickleTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const second = pop();
        stack.push(new PickleTuple([pop(), second]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const third = pop();
        const second = pop();
        stack.push(new PickleTuple([pop(), second, third]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PickleTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        listOf(top()).push(item);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        listOf(top()).push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const dict = new Map<PickleKey, unknown>();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        dictOf(top()).set(keyOf(key), value);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(dictOf(top()), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(policy.global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw new PickleError('the pickle names a global with something other than strings');
        }
        stack.push(policy.global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PickleTuple))
          throw new PickleError('the pickle calls with arguments that are not a tuple');
        stack.push(policy.reduce(callable, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        stack.push(policy.build(pop(), state));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(policy.persistentLoad(pop()));
        break;
      default: {
        const name = REFUSED_OPCODES[opcode];
        if (name) {
          throw new PickleError(
            `refuses the pickle opcode ${name} at byte ${position}: it builds arbitrary objects`,
          );
        }
        throw new PickleError(
          `unknown or unsupported pickle opcode 0x${opcode.toString(16).padStart(2, '0')} at byte ${position}`,
        );
      }
    }
  }
}

function keyOf(key: unknown): PickleKey {
  if (key === null || typeof key === 'string' || typeof key === 'number' || typeof key === 'boolean')
    return key;
  throw new PickleError(`the pickle uses a ${typeName(key)} as a dict key`);
}

/** Python's two's-complement little-endian long, as a number when it fits exactly. */
function littleEndianSigned(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return toSafeInteger(value);
}

function toSafeInteger(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new PickleError(`the pickle holds the integer ${value}, which is out of range`);
  }
  return Number(value);
}

/** How a value shows in messages, in Python's words. */
export function typeName(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof PickleTuple) return 'tuple';
  if (value instanceof Map) return 'dict';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'boolean') return 'bool';
  return 'object';
}
