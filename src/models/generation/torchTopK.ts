/**
 * `torch.topk(values, k, largest=True, sorted=True)` of a 1-D tensor on the CPU, in PyTorch 1.13's order,
 * ties included.
 *
 * PyTorch 1.13 (`aten/src/ATen/native/TopKImpl.h`) pairs each value with its index and orders the pairs by
 * value alone (NaN above everything): `std::partial_sort` of the first k when k·64 ≤ n, else `std::nth_element`
 * at k−1 followed by `std::sort` of the first k−1. The order of equal values is whatever those algorithms leave,
 * neither "lowest index first" nor stable, and beam search feeds that order into which candidate becomes which
 * beam and whether an end-of-sequence candidate ranks below num_beams. No library reproduces it, so this file
 * re-traces libstdc++'s algorithms (GCC builds PyTorch's Linux wheels) step by step: heap select and heap sort,
 * introselect with median-of-three pivots, insertion sort, introsort. Tests compare it with g++'s std::.
 * (PyTorch 2.x replaced the partial-sort path by its own heap loop, so its ties may come out differently.)
 */
export function torchTopK(values: ArrayLike<number>, k: number): { values: number[]; indices: number[] } {
  const n = values.length;
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) {
    throw new RangeError(`topk: k = ${k} must be an integer in 1..${n} (the number of values)`);
  }
  const queue = new PairQueue(values);
  if (k * 64 <= n) {
    queue.partialSort(0, k, n);
  } else {
    queue.nthElement(0, k - 1, n);
    queue.sort(0, k - 1);
  }
  return { values: Array.from(queue.value.subarray(0, k)), indices: Array.from(queue.index.subarray(0, k)) };
}

/** PyTorch's comparator for largest = true: a goes before b. */
function before(a: number, b: number): boolean {
  return (Number.isNaN(a) && !Number.isNaN(b)) || a > b;
}

/** floor(log2(n)) for n ≥ 1, as `std::__lg`. */
function lg(n: number): number {
  return 31 - Math.clz32(n);
}

/** C++ integer division of a possibly negative numerator by 2 (truncates toward zero). */
function half(x: number): number {
  return Math.trunc(x / 2);
}

/**
 * The (value, index) pairs and libstdc++'s algorithms on them. Positions are absolute offsets into the arrays,
 * where libstdc++ has iterators; a pair "held" outside the arrays (libstdc++'s moved-out `__value`) travels as
 * two numbers.
 */
class PairQueue {
  readonly value: Float64Array;
  readonly index: Int32Array;

  constructor(values: ArrayLike<number>) {
    // PyTorch compares in accscalar_t, double for float: the same order as the float32 values.
    this.value = Float64Array.from(values);
    this.index = new Int32Array(values.length);
    for (let j = 0; j < values.length; j++) this.index[j] = j;
  }

  private move(from: number, to: number): void {
    this.value[to] = this.value[from];
    this.index[to] = this.index[from];
  }

  private put(at: number, value: number, index: number): void {
    this.value[at] = value;
    this.index[at] = index;
  }

  private swap(a: number, b: number): void {
    const v = this.value[a];
    const i = this.index[a];
    this.move(b, a);
    this.put(b, v, i);
  }

  private beforeAt(a: number, b: number): boolean {
    return before(this.value[a], this.value[b]);
  }

  /** `std::__adjust_heap` (with its `__push_heap`) on the heap of `len` pairs at `first`. */
  private adjustHeap(first: number, holeIn: number, len: number, value: number, index: number): void {
    let hole = holeIn;
    const top = hole;
    let second = hole;
    while (second < half(len - 1)) {
      second = 2 * (second + 1);
      if (this.beforeAt(first + second, first + second - 1)) second--;
      this.move(first + second, first + hole);
      hole = second;
    }
    if ((len & 1) === 0 && second === half(len - 2)) {
      second = 2 * (second + 1);
      this.move(first + second - 1, first + hole);
      hole = second - 1;
    }
    let parent = half(hole - 1);
    while (hole > top && before(this.value[first + parent], value)) {
      this.move(first + parent, first + hole);
      hole = parent;
      parent = half(hole - 1);
    }
    this.put(first + hole, value, index);
  }

  /** `std::__make_heap` over [first, last). */
  private makeHeap(first: number, last: number): void {
    const len = last - first;
    if (len < 2) return;
    for (let parent = half(len - 2); ; parent--) {
      this.adjustHeap(first, parent, len, this.value[first + parent], this.index[first + parent]);
      if (parent === 0) return;
    }
  }

  /** `std::__pop_heap`: the heap's top goes to `result`, the pair at `result` into the heap [first, last). */
  private popHeap(first: number, last: number, result: number): void {
    const value = this.value[result];
    const index = this.index[result];
    this.move(first, result);
    this.adjustHeap(first, 0, last - first, value, index);
  }

  /** `std::__heap_select`: [first, middle) becomes a heap of the middle − first best pairs. */
  private heapSelect(first: number, middle: number, last: number): void {
    this.makeHeap(first, middle);
    for (let i = middle; i < last; i++) {
      if (this.beforeAt(i, first)) this.popHeap(first, middle, i);
    }
  }

  /** `std::__sort_heap`. */
  private sortHeap(first: number, lastIn: number): void {
    let last = lastIn;
    while (last - first > 1) {
      last--;
      this.popHeap(first, last, last);
    }
  }

  /** `std::partial_sort(first, middle, last)`. */
  partialSort(first: number, middle: number, last: number): void {
    this.heapSelect(first, middle, last);
    this.sortHeap(first, middle);
  }

  /** `std::__unguarded_linear_insert`: moves the pair at `at` left past every pair it goes before. */
  private unguardedLinearInsert(atIn: number): void {
    let at = atIn;
    const value = this.value[at];
    const index = this.index[at];
    let next = at - 1;
    while (before(value, this.value[next])) {
      this.move(next, at);
      at = next;
      next--;
    }
    this.put(at, value, index);
  }

  /** `std::__insertion_sort` (stable). */
  private insertionSort(first: number, last: number): void {
    if (first === last) return;
    for (let i = first + 1; i < last; i++) {
      if (this.beforeAt(i, first)) {
        const value = this.value[i];
        const index = this.index[i];
        for (let j = i; j > first; j--) this.move(j - 1, j);
        this.put(first, value, index);
      } else {
        this.unguardedLinearInsert(i);
      }
    }
  }

  /** `std::__move_median_to_first`: swaps the median of a, b, c into `result`. */
  private moveMedianToFirst(result: number, a: number, b: number, c: number): void {
    if (this.beforeAt(a, b)) {
      if (this.beforeAt(b, c)) this.swap(result, b);
      else if (this.beforeAt(a, c)) this.swap(result, c);
      else this.swap(result, a);
    } else if (this.beforeAt(a, c)) this.swap(result, a);
    else if (this.beforeAt(b, c)) this.swap(result, c);
    else this.swap(result, b);
  }

  /** `std::__unguarded_partition` of [firstIn, lastIn) around the pair at `pivot`. */
  private unguardedPartition(firstIn: number, lastIn: number, pivot: number): number {
    let first = firstIn;
    let last = lastIn;
    for (;;) {
      while (this.beforeAt(first, pivot)) first++;
      last--;
      while (this.beforeAt(pivot, last)) last--;
      if (!(first < last)) return first;
      this.swap(first, last);
      first++;
    }
  }

  /** `std::__unguarded_partition_pivot`. */
  private partitionPivot(first: number, last: number): number {
    const mid = first + half(last - first);
    this.moveMedianToFirst(first, first + 1, mid, last - 1);
    return this.unguardedPartition(first + 1, last, first);
  }

  /** `std::nth_element(first, nth, last)`: libstdc++'s `__introselect`. */
  nthElement(firstIn: number, nth: number, lastIn: number): void {
    let first = firstIn;
    let last = lastIn;
    if (first === last || nth === last) return;
    let depthLimit = lg(last - first) * 2;
    while (last - first > 3) {
      if (depthLimit === 0) {
        this.heapSelect(first, nth + 1, last);
        this.swap(first, nth);
        return;
      }
      depthLimit--;
      const cut = this.partitionPivot(first, last);
      if (cut <= nth) first = cut;
      else last = cut;
    }
    this.insertionSort(first, last);
  }

  /** libstdc++'s `__introsort_loop` (threshold 16). */
  private introsortLoop(first: number, lastIn: number, depthIn: number): void {
    let last = lastIn;
    let depthLimit = depthIn;
    while (last - first > 16) {
      if (depthLimit === 0) {
        this.partialSort(first, last, last);
        return;
      }
      depthLimit--;
      const cut = this.partitionPivot(first, last);
      this.introsortLoop(cut, last, depthLimit);
      last = cut;
    }
  }

  /** `std::sort(first, last)`: introsort, then the final insertion sort. */
  sort(first: number, last: number): void {
    if (first === last) return;
    this.introsortLoop(first, last, lg(last - first) * 2);
    if (last - first > 16) {
      this.insertionSort(first, first + 16);
      for (let i = first + 16; i < last; i++) this.unguardedLinearInsert(i);
    } else {
      this.insertionSort(first, last);
    }
  }
}
