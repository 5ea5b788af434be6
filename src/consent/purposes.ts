/**
 * The purposes catalogue's verbs. Each text (or title) change makes a new version; versions
 * keep their text and its SHA-256 forever, so a consent can be matched with the exact words the
 * person saw. Reads go through the cached catalogue (src/consent/catalog.ts); every write tells
 * it, after commit, so this instance and the others read the change.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Ctx, Deps } from '../deps.js';
import type { LegalBasis, Localized, PurposeChannel, PurposeVersion } from '../db/schema/purposes.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { CachedPurpose, PurposeView } from './catalog.js';

export type { CachedPurpose, PurposeView } from './catalog.js';

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

export interface PurposeVersionView {
  version: number;
  title: Localized;
  text: Localized;
  textSha256: string;
  createdAt: string;
}

type ReadCtx = Pick<Deps, 'db' | 'purposes'>;

/** SHA-256 (hex) of the RFC 8785 JSON of a purpose's localized text: what the person read. */
export function textSha256(text: Localized): string {
  return createHash('sha256').update(canonicalize({ fr: text.fr, en: text.en })!).digest('hex');
}

/** The purpose, or NotFoundError PURPOSE_NOT_FOUND. */
export async function requirePurpose(ctx: Pick<Deps, 'purposes'>, id: string): Promise<CachedPurpose> {
  const p = await ctx.purposes.find(id);
  if (!p) throw new NotFoundError('PURPOSE_NOT_FOUND', `no purpose "${id.slice(0, 64)}"`);
  return p;
}

export async function listPurposes(ctx: Pick<Deps, 'purposes'>): Promise<PurposeView[]> {
  return (await ctx.purposes.get()).list.map((p) => p.view);
}

const versionView = (r: PurposeVersion): PurposeVersionView => ({
  version: r.version,
  title: r.title,
  text: r.text,
  textSha256: r.textSha256,
  createdAt: new Date(r.createdAt).toISOString(),
});

export async function getPurpose(ctx: ReadCtx, id: string): Promise<PurposeView & { versions: PurposeVersionView[] }> {
  const p = await requirePurpose(ctx, id);
  return { ...p.view, versions: (await ctx.db.purposes.versions(id)).map(versionView) };
}

/** One version of a purpose's text, or NotFoundError PURPOSE_VERSION_NOT_FOUND. */
export async function getPurposeVersion(ctx: Pick<Deps, 'db'>, id: string, version: number): Promise<PurposeVersionView> {
  const row = await ctx.db.purposes.version(id, version);
  if (!row) throw new NotFoundError('PURPOSE_VERSION_NOT_FOUND', `purpose "${id}" has no version ${version}`);
  return versionView(row);
}

/** Adds a purpose at version 1, audited; 409 PURPOSE_EXISTS when the id is taken. */
export async function createPurpose(ctx: Ctx, input: PurposeInput): Promise<PurposeView> {
  const now = ctx.now();
  const sha = textSha256(input.text);
  await ctx.db.tx(async (t) => {
    const fields = {
      title: input.title,
      text: input.text,
      legalBasis: input.legalBasis,
      channels: input.channels,
      validityDays: input.validityDays ?? null,
      gpcApplies: input.gpcApplies ?? false,
    };
    const inserted = await t.purposes.insert({ id: input.id, ...fields, version: 1, createdAt: now, updatedAt: now });
    if (!inserted) throw new ConflictError('PURPOSE_EXISTS', `purpose "${input.id}" already exists`);
    await t.purposes.insertVersion({ purposeId: input.id, version: 1, title: input.title, text: input.text, textSha256: sha, createdAt: now });
    await ctx.audit.append(t, {
      type: 'purpose.created',
      actor: ctx.actor,
      data: { purpose: input.id, version: 1, textSha256: sha, legalBasis: input.legalBasis, gpcApplies: fields.gpcApplies },
    });
  });
  await ctx.purposes.changed();
  return (await requirePurpose(ctx, input.id)).view;
}

const sameLocalized = (a: Localized, b: Localized) => a.fr === b.fr && a.en === b.en;

/**
 * Changes a purpose. A new title or text makes a new version (the old one stays, with its
 * hash); other fields change in place. The row is read locked and the update guarded on the
 * version read: two concurrent edits (two instances) apply one after the other, none lost.
 */
export async function updatePurpose(ctx: Ctx, id: string, patch: PurposePatch): Promise<PurposeView & { versions: PurposeVersionView[] }> {
  const now = ctx.now();
  await ctx.db.tx(async (t) => {
    const cur = await t.purposes.get(id, { forUpdate: true });
    if (!cur) throw new NotFoundError('PURPOSE_NOT_FOUND', `no purpose "${id.slice(0, 64)}"`);
    const title = patch.title ?? cur.title;
    const text = patch.text ?? cur.text;
    const textChanged = !sameLocalized(title, cur.title) || !sameLocalized(text, cur.text);
    const version = textChanged ? cur.version + 1 : cur.version;
    const moved = !(await t.purposes.update(id, cur.version, {
      title,
      text,
      legalBasis: patch.legalBasis ?? cur.legalBasis,
      channels: patch.channels ?? cur.channels,
      validityDays: patch.validityDays === undefined ? cur.validityDays : patch.validityDays,
      gpcApplies: patch.gpcApplies ?? cur.gpcApplies,
      version,
      updatedAt: now,
    }));
    if (moved) throw new ConflictError('PURPOSE_CHANGED', 'the purpose changed meanwhile; retry');
    const sha = textChanged ? textSha256(text) : (await t.purposes.version(id, cur.version))!.textSha256;
    if (textChanged) await t.purposes.insertVersion({ purposeId: id, version, title, text, textSha256: sha, createdAt: now });
    await ctx.audit.append(t, {
      type: 'purpose.updated',
      actor: ctx.actor,
      data: { purpose: id, version, textSha256: sha, newVersion: textChanged, fields: Object.keys(patch).sort() },
    });
  });
  await ctx.purposes.changed();
  return getPurpose(ctx, id);
}
