/**
 * The dashboard's administration of staff accounts, over the account verbs (src/auth/users.ts,
 * src/auth/credentials.ts, which audit): what the dashboard adds is that an administrator never
 * locks themselves out — they cannot disable their own account or change their own role (the
 * account verbs, also used by the CLI to repair an installation, do not refuse it).
 */
import type { Ctx } from '../deps.js';
import type { Role, User } from '../db/schema/users.js';
import { ForbiddenError } from '../errors.js';
import { generatePassword } from '../auth/passwords.js';
import { changeUserRole, createUser } from '../auth/users.js';
import { disableUser, enableUser, setUserPassword } from '../auth/credentials.js';

function refuseSelf(ctx: Ctx, userId: string): void {
  if (ctx.actor.type === 'user' && ctx.actor.id === userId) throw new ForbiddenError('SELF_LOCKOUT', 'an administrator cannot disable or demote themselves');
}

/** Creates a staff user; without a typed password, one is generated and returned (to show once). */
export async function addStaffMember(ctx: Ctx, input: { email: string; role: Role; password?: string }): Promise<{ user: User; generated?: string }> {
  const generated = input.password ? undefined : generatePassword();
  const user = await createUser(ctx, { email: input.email, role: input.role, password: input.password || generated! });
  return generated ? { user, generated } : { user };
}

export function setStaffRole(ctx: Ctx, userId: string, role: Role): Promise<{ changed: boolean }> {
  refuseSelf(ctx, userId);
  return changeUserRole(ctx, userId, role);
}

/** Disables (and ends every session of) the account, or enables it again. */
export async function setStaffDisabled(ctx: Ctx, userId: string, disabled: boolean): Promise<{ changed: boolean }> {
  if (!disabled) return enableUser(ctx, userId);
  refuseSelf(ctx, userId);
  return disableUser(ctx, userId);
}

/** A new generated password (returned, to show once); every session of the user ends. */
export async function resetStaffPassword(ctx: Ctx, userId: string): Promise<{ password: string }> {
  const password = generatePassword();
  await setUserPassword(ctx, userId, password);
  return { password };
}
