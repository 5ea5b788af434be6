import { z } from 'zod';
import type { Role, User } from '../db/schema/users.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Ctx } from '../deps.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.js';

const Email = z.string().trim().toLowerCase().pipe(z.email());

/**
 * The lock on a user's credentials, held by every transaction that changes them or opens a
 * session: on PostgreSQL a login checking the password hash and a change ending the sessions
 * never interleave (SQLite: implied by its single writer).
 */
export const userLock = (userId: string) => `user:${userId}`;

export function normalizeStaffEmail(raw: string): string {
  const parsed = Email.safeParse(raw);
  if (!parsed.success) throw new ValidationError('INVALID_EMAIL', 'not a valid email address');
  return parsed.data;
}

/** Creates a staff user (argon2id hash); the audit entry names the user by id only. */
export async function createUser(ctx: Ctx, input: { email: string; role: Role; password: string }): Promise<User> {
  const email = normalizeStaffEmail(input.email);
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new ValidationError('PASSWORD_TOO_SHORT', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const passwordHash = await hashPassword(input.password);
  return ctx.db.tx(async (t) => {
    // The unique email decides between two instances creating the same user at once.
    const user = await t.auth.insertUser({ id: ctx.ids('usr'), email, passwordHash, role: input.role, createdAt: ctx.now() });
    if (!user) throw new ConflictError('USER_EXISTS', 'a user with this email exists');
    await ctx.audit.append(t, { type: 'user.created', actor: ctx.actor, data: { userId: user.id, role: user.role } });
    return user;
  });
}

export function findUserByEmail(ctx: Pick<Ctx, 'db'>, email: string): Promise<User | undefined> {
  return ctx.db.auth.userByEmail(email);
}

export function listUsers(ctx: Pick<Ctx, 'db'>): Promise<User[]> {
  return ctx.db.auth.users();
}

/**
 * Gives a staff user another role. Their sessions stay open: a session's role is read from the
 * user's row on every request, so the change applies from their next one. Idempotent: the same
 * role changes and audits nothing.
 */
export async function changeUserRole(ctx: Ctx, userId: string, role: Role): Promise<{ changed: boolean }> {
  return ctx.db.tx(
    async (t) => {
      const before = await t.auth.setRole(userId, role);
      if (before === undefined) throw new NotFoundError('USER_NOT_FOUND', 'no such user');
      if (before === role) return { changed: false };
      await ctx.audit.append(t, { type: 'user.role_changed', actor: ctx.actor, data: { userId, from: before, to: role } });
      return { changed: true };
    },
    { locks: [userLock(userId)] },
  );
}
