/**
 * The purposes catalogue. Each text (or title) change makes a new version; versions keep their
 * text and its SHA-256 forever, so a consent can be matched with the exact words the person saw.
 *
 * The catalogue is read on every consent read and write, so it is cached in memory per
 * connection. The cache is dropped by this process's purpose writes, and reloaded when another
 * connection (a CLI command beside the server) committed anything (`PRAGMA data_version`).
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type BetterSqlite3 from 'better-sqlite3';
import { writeTx, type Db, type Sqlite } from '../db/client.js';
import type { Ctx } from '../deps.js';
import type { LegalBasis, Localized, PurposeChannel } from '../db/schema/purposes.js';
import { ConflictError, NotFoundError } from '../errors.js';

export interface PurposeInput {
  id: string;
  title: Localized;
  text: Localized;
  legalBasis: LegalBasis;
  channels: PurposeChannel[];
  validityDays?: number | null;
  gpcApplies?: boolean;
}

export type PurposePatch = Partial<Omit<PurposeInput, 'id'>>;

export interface PurposeView {
  id: string;
  title: Localized;
  text: Localized;
  legalBasis: LegalBasis;
  channels: PurposeChannel[];
  validityDays: number | null;
  gpcApplies: boolean;
  version: number;
  textSha256: string;
  createdAt: string;
  updatedAt: string;
}

export interface PurposeVersionView {
  version: number;
  title: Localized;
  text: Localized;
  textSha256: string;
  createdAt: string;
}

/** What the hot paths need of a purpose, precomputed. */
export interface CachedPurpose {
  view: PurposeView;
  id: string;
  version: number;
  /** validityDays in ms, or 0 when consents never expire. */
  validityMs: number;
  gpcApplies: boolean;
  textSha256: string;
}

export interface Catalog {
  list: CachedPurpose[];
  byId: Map<string, CachedPurpose>;
}

interface PurposeRow {
  id: string;
  title: string;
  text: string;
  legal_basis: LegalBasis;
  channels: string;
  validity_days: number | null;
  gpc_applies: number;
  version: number;
  created_at: number;
  updated_at: number;
  text_sha256: string;
}

type Stmt = BetterSqlite3.Statement<unknown[], unknown>;
interface State {
  catalog: Catalog | null;
  dataVersion: number;
  stmts: {
    dataVersion: Stmt;
    all: Stmt;
    insert: Stmt;
    update: Stmt;
    insertVersion: Stmt;
    versions: Stmt;
    version: Stmt;
  };
}
const states = new WeakMap<Sqlite, State>();

function state(db: Db): State {
  const sqlite = db.$client;
  let s = states.get(sqlite);
  if (!s) {
    s = {
      catalog: null,
      dataVersion: -1,
      stmts: {
        dataVersion: sqlite.prepare('pragma data_version').pluck(),
        all: sqlite.prepare(
          `select p.*, v.text_sha256 from purposes p
           join purpose_versions v on v.purpose_id = p.id and v.version = p.version order by p.id`,
        ),
        insert: sqlite.prepare(
          `insert into purposes (id, title, text, legal_basis, channels, validity_days, gpc_applies, version, created_at, updated_at)
           values (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
        ),
        update: sqlite.prepare(
          `update purposes set title = ?, text = ?, legal_basis = ?, channels = ?, validity_days = ?, gpc_applies = ?,
           version = ?, updated_at = ? where id = ? and version = ?`,
        ),
        insertVersion: sqlite.prepare(
          'insert into purpose_versions (purpose_id, version, title, text, text_sha256, created_at) values (?, ?, ?, ?, ?, ?)',
        ),
        versions: sqlite.prepare(
          'select version, title, text, text_sha256, created_at from purpose_versions where purpose_id = ? order by version',
        ),
        version: sqlite.prepare('select version, title, text, text_sha256, created_at from purpose_versions where purpose_id = ? and version = ?'),
      },
    };
    states.set(sqlite, s);
  }
  return s;
}

/** SHA-256 (hex) of the RFC 8785 JSON of a purpose's localized text: what the person read. */
export function textSha256(text: Localized): string {
  return createHash('sha256').update(canonicalize({ fr: text.fr, en: text.en })!).digest('hex');
}

function toView(r: PurposeRow): PurposeView {
  return {
    id: r.id,
    title: JSON.parse(r.title) as Localized,
    text: JSON.parse(r.text) as Localized,
    legalBasis: r.legal_basis,
    channels: JSON.parse(r.channels) as PurposeChannel[],
    validityDays: r.validity_days,
    gpcApplies: r.gpc_applies === 1,
    version: r.version,
    textSha256: r.text_sha256,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/** The cached catalogue (sorted by id); cheap enough to call on every request. */
export function purposeCatalog(db: Db): Catalog {
  const s = state(db);
  const dv = s.stmts.dataVersion.get() as number;
  if (s.catalog && dv === s.dataVersion) return s.catalog;
  const list = (s.stmts.all.all() as PurposeRow[]).map((r): CachedPurpose => {
    const view = toView(r);
    return {
      view,
      id: r.id,
      version: r.version,
      validityMs: (r.validity_days ?? 0) * 86_400_000,
      gpcApplies: view.gpcApplies,
      textSha256: r.text_sha256,
    };
  });
  s.catalog = { list, byId: new Map(list.map((p) => [p.id, p])) };
  s.dataVersion = dv;
  return s.catalog;
}

function invalidate(db: Db): void {
  state(db).catalog = null;
}

/** The purpose, or NotFoundError PURPOSE_NOT_FOUND. */
export function requirePurpose(db: Db, id: string): CachedPurpose {
  const p = purposeCatalog(db).byId.get(id);
  if (!p) throw new NotFoundError('PURPOSE_NOT_FOUND', `no purpose "${id.slice(0, 64)}"`);
  return p;
}

export function listPurposes(db: Db): PurposeView[] {
  return purposeCatalog(db).list.map((p) => p.view);
}

export function getPurpose(db: Db, id: string): PurposeView & { versions: PurposeVersionView[] } {
  const p = requirePurpose(db, id);
  return { ...p.view, versions: listPurposeVersions(db, id) };
}

interface VersionRow {
  version: number;
  title: string;
  text: string;
  text_sha256: string;
  created_at: number;
}
const versionView = (r: VersionRow): PurposeVersionView => ({
  version: r.version,
  title: JSON.parse(r.title) as Localized,
  text: JSON.parse(r.text) as Localized,
  textSha256: r.text_sha256,
  createdAt: new Date(r.created_at).toISOString(),
});

export function listPurposeVersions(db: Db, id: string): PurposeVersionView[] {
  return (state(db).stmts.versions.all(id) as VersionRow[]).map(versionView);
}

/** One version of a purpose's text, or NotFoundError PURPOSE_VERSION_NOT_FOUND. */
export function getPurposeVersion(db: Db, id: string, version: number): PurposeVersionView {
  const row = state(db).stmts.version.get(id, version) as VersionRow | undefined;
  if (!row) throw new NotFoundError('PURPOSE_VERSION_NOT_FOUND', `purpose "${id}" has no version ${version}`);
  return versionView(row);
}

/** Adds a purpose at version 1; 409 PURPOSE_EXISTS when the id is taken. */
export function createPurpose(ctx: Ctx, input: PurposeInput): PurposeView {
  const s = state(ctx.db);
  const now = ctx.now();
  const sha = textSha256(input.text);
  writeTx(ctx.db, () => {
    const exists = ctx.db.$client.prepare('select 1 from purposes where id = ?').get(input.id);
    if (exists) throw new ConflictError('PURPOSE_EXISTS', `purpose "${input.id}" already exists`);
    s.stmts.insert.run(
      input.id,
      JSON.stringify(input.title),
      JSON.stringify(input.text),
      input.legalBasis,
      JSON.stringify(input.channels),
      input.validityDays ?? null,
      input.gpcApplies ? 1 : 0,
      now,
      now,
    );
    s.stmts.insertVersion.run(input.id, 1, JSON.stringify(input.title), JSON.stringify(input.text), sha, now);
    ctx.audit.append({
      type: 'purpose.created',
      actor: ctx.actor,
      data: { purpose: input.id, version: 1, textSha256: sha, legalBasis: input.legalBasis, gpcApplies: !!input.gpcApplies },
    });
    invalidate(ctx.db);
  });
  return requirePurpose(ctx.db, input.id).view;
}

const sameLocalized = (a: Localized, b: Localized) => a.fr === b.fr && a.en === b.en;

/**
 * Changes a purpose. A new title or text makes a new version (the old one stays, with its
 * hash); other fields change in place. The update is guarded on the version read, so two
 * concurrent edits cannot both claim the same new version.
 */
export function updatePurpose(ctx: Ctx, id: string, patch: PurposePatch): PurposeView & { versions: PurposeVersionView[] } {
  const s = state(ctx.db);
  const now = ctx.now();
  writeTx(ctx.db, () => {
    invalidate(ctx.db);
    const cur = requirePurpose(ctx.db, id).view;
    const title = patch.title ?? cur.title;
    const text = patch.text ?? cur.text;
    const textChanged = !sameLocalized(title, cur.title) || !sameLocalized(text, cur.text);
    const version = textChanged ? cur.version + 1 : cur.version;
    const next = {
      legalBasis: patch.legalBasis ?? cur.legalBasis,
      channels: patch.channels ?? cur.channels,
      validityDays: patch.validityDays === undefined ? cur.validityDays : patch.validityDays,
      gpcApplies: patch.gpcApplies ?? cur.gpcApplies,
    };
    const changed = s.stmts.update.run(
      JSON.stringify(title),
      JSON.stringify(text),
      next.legalBasis,
      JSON.stringify(next.channels),
      next.validityDays,
      next.gpcApplies ? 1 : 0,
      version,
      now,
      id,
      cur.version,
    ).changes;
    if (changed !== 1) throw new ConflictError('PURPOSE_CHANGED', 'the purpose changed meanwhile; retry');
    const sha = textChanged ? textSha256(text) : cur.textSha256;
    if (textChanged) s.stmts.insertVersion.run(id, version, JSON.stringify(title), JSON.stringify(text), sha, now);
    ctx.audit.append({
      type: 'purpose.updated',
      actor: ctx.actor,
      data: { purpose: id, version, textSha256: sha, newVersion: textChanged, fields: Object.keys(patch).sort() },
    });
    invalidate(ctx.db);
  });
  return getPurpose(ctx.db, id);
}
