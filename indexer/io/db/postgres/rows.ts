// The PostgreSQL tables as plain rows (core/storage.ts TableRows), for `vidsearch store copy`.
// Rows go in as one JSON array per batch (json_populate_recordset casts each field to its column's
// type, bytea from "\x…" hex); the pgvector column is not copied but filled from the bytes at the
// end (search.ts fillEmbeddings).
import type { TableRow, TableRows } from '../../../core/storage';
import { PgConnection } from './connection';
import { PgVectorSearch } from './search';

export class PgRows implements TableRows {
  private readonly types = new Map<string, Map<string, string>>();

  private constructor(private readonly c: PgConnection) {}

  static async open(url: string): Promise<PgRows> {
    return new PgRows(await PgConnection.open(url, { poolSize: 2 }));
  }

  private async declared(table: string): Promise<Map<string, string>> {
    let t = this.types.get(table);
    if (!t) {
      const rows = (await this.c.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, [table])).rows;
      t = new Map(rows.map((r) => [r.column_name, r.data_type]));
      this.types.set(table, t);
    }
    return t;
  }

  async columns(table: string): Promise<string[]> {
    // The ANN column is derived from "vector", never copied (the other side has no such type).
    return [...(await this.declared(table)).entries()].filter(([, type]) => type !== 'USER-DEFINED').map(([name]) => name);
  }

  async count(table: string): Promise<number> {
    return Number((await this.c.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`)).rows[0]!.n);
  }

  async read(table: string, columns: string[], key: string, after: number | string | null, limit: number): Promise<TableRow[]> {
    const types = await this.declared(table);
    const order = types.get(key) === 'text' ? `"${key}" COLLATE "C"` : `"${key}"`;
    const rows = (
      await this.c.query<TableRow>(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}"${after === null ? '' : ` WHERE ${order} > $2`} ORDER BY ${order} LIMIT $1`, after === null ? [limit] : [limit, after])
    ).rows;
    for (const r of rows) for (const c of columns) if (types.get(c) === 'bigint' && r[c] !== null) r[c] = Number(r[c]);
    return rows;
  }

  async write(table: string, columns: string[], rows: TableRow[]): Promise<void> {
    if (!rows.length) return;
    const json = JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] instanceof Uint8Array ? `\\x${Buffer.from(r[c].buffer, r[c].byteOffset, r[c].byteLength).toString('hex')}` : (r[c] ?? null)]))));
    const list = columns.map((c) => `"${c}"`).join(', ');
    await this.c.query(`INSERT INTO "${table}" (${list}) SELECT ${list} FROM json_populate_recordset(NULL::"${table}", $1::json)`, [json]);
  }

  async finish(tables: string[]): Promise<void> {
    for (const table of tables) {
      if (!(await this.declared(table)).has('id')) continue;
      await this.c.query(`SELECT setval(pg_get_serial_sequence('"${table}"', 'id'), coalesce(max("id"), 1), max("id") IS NOT NULL) FROM "${table}"`);
    }
    // The copy leaves a store whole: its first reader may be a web server that only reads.
    await new PgVectorSearch(this.c).fillEmbeddings();
  }

  close(): Promise<void> {
    return this.c.close();
  }
}
