/**
 * Records persisted as one JSON file, `<stateDir>/dns-records.json`:
 *
 *   { "version": 1, "records": [ { "network": "front", "name": "web", "type": "A", "address": "198.18.1.2", "ptr": true }, ... ] }
 *
 * Every change is written before it is acknowledged: write a temp file in
 * the same directory, fsync it, rename it over the old one, fsync the
 * directory. A crash leaves the old or the new file, never a torn one.
 * A file that does not parse is an error (never silently emptied).
 * Also: /etc/hosts-format parsing for `weft dns serve --hosts`.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import { readTextFileIfExists } from '../io/files.js';
import { StateFileError } from '../errors.js';
import { isIPv4, canonicalIPv6 } from '../wire/ip.js';
import { MemoryDnsRecords, normalizeRecord, type DnsRecords, type NameRecord } from './records.js';

export const RECORDS_FILE = 'dns-records.json';

export class FileDnsRecords implements DnsRecords {
  #mem: MemoryDnsRecords;

  private constructor(readonly path: string, records: NameRecord[]) {
    this.#mem = new MemoryDnsRecords(records);
  }

  /** Opens `<stateDir>/dns-records.json` (absent file: empty store). */
  static open(stateDir: string): FileDnsRecords {
    const path = join(stateDir, RECORDS_FILE);
    const text = readTextFileIfExists(path);
    if (text === undefined) return new FileDnsRecords(path, []);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new StateFileError(`${path} is not valid JSON`);
    }
    const records = (doc as { records?: unknown }).records;
    if (!Array.isArray(records)) throw new StateFileError(`${path} has no "records" list`);
    return new FileDnsRecords(path, records.map((r) => normalizeRecord(r as NameRecord)));
  }

  get version(): number {
    return this.#mem.version;
  }

  add(record: NameRecord): boolean {
    const before = this.#mem.version;
    const added = this.#mem.add(record);
    if (this.#mem.version !== before) this.#save();
    return added;
  }

  remove(record: NameRecord): boolean {
    const removed = this.#mem.remove(record);
    if (removed) this.#save();
    return removed;
  }

  list(network?: string): NameRecord[] {
    return this.#mem.list(network);
  }

  #save(): void {
    writeFileAtomic(this.path, `${JSON.stringify({ version: 1, records: this.#mem.list() }, null, 1)}\n`);
  }
}

/**
 * /etc/hosts lines ("ADDR name [alias...]", '#' comments) as records on one
 * network. Several lines naming one name give several answers; the first
 * name of a line gets a PTR. Returns the records and a warning per bad line.
 */
export function parseHostsFile(text: string, network: string): { records: NameRecord[]; warnings: string[] } {
  const records: NameRecord[] = [];
  const warnings: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [addr, ...names] = line.split(/\s+/) as [string, ...string[]];
    let type: 'A' | 'AAAA';
    let address = addr;
    if (isIPv4(addr)) type = 'A';
    else {
      try {
        address = canonicalIPv6(addr);
        type = 'AAAA';
      } catch {
        warnings.push(`line ${i + 1}: not an IP address: ${addr}`);
        return;
      }
    }
    if (names.length === 0) warnings.push(`line ${i + 1}: no names`);
    names.forEach((name, j) => {
      try {
        records.push(normalizeRecord({ network, name, type, address, ...(j === 0 ? { ptr: true } : {}) }));
      } catch (err) {
        warnings.push(`line ${i + 1}: ${(err as Error).message}`);
      }
    });
  });
  return { records, warnings };
}
