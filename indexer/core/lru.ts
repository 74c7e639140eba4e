// A small least-recently-used cache (the searcher's text vectors).

/** Least-recently-used cache: a Map keeps insertion order, so re-inserting marks an entry recent. */
export class LruCache<K, V> {
  private map = new Map<K, V>();
  hits = 0;
  misses = 0;
  constructor(readonly capacity: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
  get size(): number {
    return this.map.size;
  }
}
