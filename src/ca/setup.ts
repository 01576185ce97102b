import { dirname, join, resolve } from 'node:path';

/** Where a generated key-encryption key goes: beside the SQLite file, or ./data for PostgreSQL. */
export function defaultCaKeyFile(databaseUrl: string): string {
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) return resolve('data', 'countersign-ca.key');
  const path = databaseUrl.replace(/^sqlite:(\/\/)?/i, '');
  return path === ':memory:' ? resolve('data', 'countersign-ca.key') : join(dirname(resolve(path)), 'countersign-ca.key');
}
