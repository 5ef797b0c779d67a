/** A graph that cannot be built as asked: wrong shapes, dtypes or attributes. Names the op and its inputs. */
export class GraphError extends Error {
  override name = 'GraphError';
}
