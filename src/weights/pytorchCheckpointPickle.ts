import type { Dtype } from './dtypes.ts';
import { PickleError, type PicklePolicy, PickleTuple, typeName } from './pickle.ts';

/**
 * What a `torch.save` pickle of a state dict may use, and nothing more: `collections.OrderedDict`, the
 * `torch._utils` functions that rebuild tensors and parameters, the typed storage classes, and persistent ids
 * `('storage', StorageClass, key, location, numel)` naming the zip records that hold the tensors' bytes.
 * The functions are recognised by name and never called: a tensor becomes a record of where its bytes are.
 */

/** The storage classes torch.save names in persistent ids, by the dtype of their elements. */
const STORAGE_DTYPES: Readonly<Record<string, Dtype>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** One storage of the checkpoint: the elements in zip record `data/{key}`. */
export class StorageRecord {
  constructor(
    readonly key: string,
    readonly dtype: Dtype,
    readonly numel: number,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` would make it: a strided view of a storage. */
export class TensorRecord {
  constructor(
    readonly storage: StorageRecord,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

class StorageClass {
  constructor(
    readonly name: string,
    readonly dtype: Dtype,
  ) {}
}

/** A global the policy allows to be called (REDUCE), with what the call means here. */
class AllowedCallable {
  constructor(
    readonly name: string,
    readonly call: (args: readonly unknown[]) => unknown,
  ) {}
}

const REFUSAL_ADVICE =
  'only tensors and OrderedDicts are read (convert the file to safetensors, or get it from a trusted source)';

/** A fresh policy per pickle: it remembers each storage so that views of one storage agree on it. */
export function torchStateDictPolicy(): PicklePolicy {
  const storages = new Map<string, StorageRecord>();
  const callables = new Map<string, AllowedCallable>(
    [
      new AllowedCallable('collections.OrderedDict', orderedDict),
      new AllowedCallable('torch._utils._rebuild_tensor_v2', (args) =>
        rebuildTensor('_rebuild_tensor_v2', args, 6, 7),
      ),
      new AllowedCallable('torch._utils._rebuild_tensor', (args) =>
        rebuildTensor('_rebuild_tensor', args, 4, 4),
      ),
      new AllowedCallable('torch._utils._rebuild_parameter', (args) => rebuildParameter(args, 3)),
      new AllowedCallable('torch._utils._rebuild_parameter_with_state', (args) => rebuildParameter(args, 4)),
    ].map((callable) => [callable.name, callable]),
  );

  return {
    global(module, name) {
      const qualified = `${module}.${name}`;
      const callable = callables.get(qualified);
      if (callable) return callable;
      if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) {
        return new StorageClass(qualified, STORAGE_DTYPES[name]!);
      }
      if (module === 'torch' && name.endsWith('Storage')) {
        throw new PickleError(
          `holds tensors of ${qualified}, a dtype this reader does not support ` +
            `(supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`,
        );
      }
      throw new PickleError(`refuses to load the pickle global "${qualified}"; ${REFUSAL_ADVICE}`);
    },

    reduce(callable, args) {
      if (callable instanceof AllowedCallable) return callable.call(args.items);
      const what = callable instanceof StorageClass ? callable.name : `a ${typeName(callable)}`;
      throw new PickleError(`refuses to call ${what} (pickle REDUCE); ${REFUSAL_ADVICE}`);
    },

    build(target, state) {
      // state_dict() sets a `_metadata` attribute (module versions) on its OrderedDict: not items, not needed.
      if (target instanceof Map) return target;
      throw new PickleError(
        `refuses to set the state of a ${describe(target)} to a ${typeName(state)} (pickle BUILD)`,
      );
    },

    persistentLoad(pid) {
      const items = pid instanceof PickleTuple ? pid.items : [];
      const [kind, storageClass, key, location, numel] = items;
      if (
        items.length !== 5 ||
        kind !== 'storage' ||
        !(storageClass instanceof StorageClass) ||
        typeof key !== 'string' ||
        typeof location !== 'string' ||
        !isCount(numel)
      ) {
        throw new PickleError(
          "refuses a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel); " +
            REFUSAL_ADVICE,
        );
      }
      const earlier = storages.get(key);
      if (earlier && (earlier.dtype !== storageClass.dtype || earlier.numel !== numel)) {
        throw new PickleError(`names storage ${key} twice with different types or sizes`);
      }
      const storage = earlier ?? new StorageRecord(key, storageClass.dtype, numel);
      storages.set(key, storage);
      return storage;
    },
  };
}

function orderedDict(args: readonly unknown[]): Map<unknown, unknown> {
  const dict = new Map<unknown, unknown>();
  if (args.length === 0) return dict;
  // OrderedDict([(key, value), ...]), as older protocols write it.
  const pairs = args[0];
  if (args.length !== 1 || !Array.isArray(pairs)) {
    throw new PickleError('calls OrderedDict with arguments other than a list of pairs');
  }
  for (const pair of pairs) {
    if (!(pair instanceof PickleTuple) || pair.items.length !== 2) {
      throw new PickleError(
        'calls OrderedDict with a list that holds something other than (key, value) pairs',
      );
    }
    dict.set(pair.items[0], pair.items[1]);
  }
  return dict;
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
function rebuildTensor(name: string, args: readonly unknown[], min: number, max: number): TensorRecord {
  const [storage, offset, size, stride] = args;
  const shape = size instanceof PickleTuple ? size.items : undefined;
  const strides = stride instanceof PickleTuple ? stride.items : undefined;
  if (
    args.length < min ||
    args.length > max ||
    !(storage instanceof StorageRecord) ||
    !isCount(offset) ||
    !shape?.every(isCount) ||
    !strides?.every((s) => Number.isSafeInteger(s)) ||
    strides.length !== shape.length
  ) {
    throw new PickleError(`calls torch._utils.${name} with arguments that do not describe a tensor`);
  }
  return new TensorRecord(storage, offset, shape as number[], strides as number[]);
}

/** `_rebuild_parameter(data, requires_grad, backward_hooks)`: a Parameter is its data here. */
function rebuildParameter(args: readonly unknown[], count: number): TensorRecord {
  if (args.length !== count || !(args[0] instanceof TensorRecord)) {
    throw new PickleError('calls torch._utils._rebuild_parameter with arguments that do not hold a tensor');
  }
  return args[0];
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** How a value shows in messages: tensors and storages by name, the rest in Python's words. */
export function describe(value: unknown): string {
  if (value instanceof TensorRecord) return 'tensor';
  if (value instanceof StorageClass) return value.name;
  if (value instanceof AllowedCallable) return value.name;
  if (value instanceof StorageRecord) return 'storage';
  return typeName(value);
}
