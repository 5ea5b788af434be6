import { eq } from 'drizzle-orm';
import { writeTx } from '../db/client.js';
import { users, type Role, type User } from '../db/schema/users.js';
import { ConflictError, ValidationError } from '../errors.js';
import type { Ctx } from '../deps.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.js';
import { z } from 'zod';

const Email = z.string().trim().toLowerCase().pipe(z.email());

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
  return writeTx(ctx.db, (tx) => {
    if (tx.select({ id: users.id }).from(users).where(eq(users.email, email)).get()) {
      throw new ConflictError('USER_EXISTS', 'a user with this email exists');
    }
    const user = tx
      .insert(users)
      .values({ id: ctx.ids('usr'), email, passwordHash, role: input.role, createdAt: ctx.now() })
      .returning()
      .get();
    ctx.audit.append({ type: 'user.created', actor: ctx.actor, data: { userId: user.id, role: user.role } });
    return user;
  });
}

export function findUserByEmail(ctx: Pick<Ctx, 'db'>, email: string): User | undefined {
  return ctx.db.select().from(users).where(eq(users.email, email)).get();
}
