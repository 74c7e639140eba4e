// The SQLite tables as plain rows (core/storage.ts TableRows), for `vidsearch store copy`: one
// better-sqlite3 connection on a migrated file. Dates are stored as Prisma stores them (ISO text,
// "+00:00"), booleans as 0/1, by the column types the migrations declare.
import Database from 'better-sqlite3';
import type { TableRow, TableRows } from '../../../core/storage';
import { migrate } from '../db';

type Declared = Map<string, string>;

export class SqliteRows implements TableRows {
  private readonly types = new Map<string, Declared>();

  private constructor(private readonly db: Database.Database) {}

  static open(file: string): SqliteRows {
    migrate(file);
    return new SqliteRows(new Database(file, { timeout: 15_000 }));
  }

  private declared(table: string): Declared {
    let t = this.types.get(table);
    if (!t) {
      t = new Map((this.db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string; type: string }>).map((c) => [c.name, c.type.toUpperCase()]));
      this.types.set(table, t);
    }
    return t;
  }

  async columns(table: string): Promise<string[]> {
    return [...this.declared(table).keys()];
  }

  async count(table: string): Promise<number> {
    return Number(this.db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get());
  }

  async read(table: string, columns: string[], key: string, after: number | string | null, limit: number): Promise<TableRow[]> {
    const types = this.declared(table);
    const rows = this.db
      .prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}"${after === null ? '' : ` WHERE "${key}" > ?`} ORDER BY "${key}" LIMIT ?`)
      .all(...(after === null ? [] : [after]), limit) as TableRow[];
    for (const r of rows) {
      for (const c of columns) {
        const v = r[c];
        const type = types.get(c);
        if (v === null || v === undefined) r[c] = null;
        else if (type === 'DATETIME') r[c] = new Date(typeof v === 'number' ? v : /[zZ]|[+-]\d\d:?\d\d$/.test(String(v)) ? String(v) : `${String(v).replace(' ', 'T')}Z`);
        else if (type === 'BOOLEAN') r[c] = v === 1 || v === 1n || v === true;
        else if (typeof v === 'bigint') r[c] = Number(v);
      }
    }
    return rows;
  }

  async write(table: string, columns: string[], rows: TableRow[]): Promise<void> {
    const st = this.db.prepare(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
    const value = (v: unknown) => (v instanceof Date ? v.toISOString().replace('Z', '+00:00') : typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v);
    this.db.transaction(() => {
      for (const r of rows) st.run(...columns.map((c) => value(r[c])));
    })();
  }

  async finish(): Promise<void> {
    // AUTOINCREMENT's counters (sqlite_sequence) follow explicit ids by themselves.
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
