import { createRoute } from '@hono/zod-openapi';
import { deleteCookie, setCookie } from 'hono/cookie';
import { createRouter, errorResponses, jsonBody, z } from '../http/openapi.js';
import { actorOf, clientAddress, isHttps } from '../http/auth.js';
import { UnauthenticatedError } from '../errors.js';
import { login, logout, SESSION_COOKIE } from './sessions.js';
import { changeOwnPassword } from './credentials.js';
import { ROLES } from '../db/schema/users.js';

const LoginBody = z
  .object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) })
  .strict()
  .openapi('LoginRequest');

const PasswordChangeBody = z
  .object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(1).max(1024) })
  .strict()
  .openapi('PasswordChangeRequest');

const Me = z.object({ userId: z.string(), role: z.enum(ROLES), expiresAt: z.string() }).openapi('Session');

/** Max-Age, not Expires: a browser whose clock differs from the server's keeps the session as long. */
export function setSessionCookie(c: Parameters<typeof isHttps>[0], token: string, expiresAt: number): void {
  const maxAge = Math.max(1, Math.floor((expiresAt - c.get('deps').now()) / 1000));
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Lax', secure: isHttps(c), path: '/', maxAge });
}

export const authRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/login',
      tags: ['Auth'],
      summary: 'Staff login: opens a session (HttpOnly cookie)',
      request: { body: jsonBody(LoginBody) },
      responses: {
        200: { description: 'Logged in; the session cookie is set', content: { 'application/json': { schema: Me } } },
        ...errorResponses(400, 401, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const deps = c.get('deps');
      const s = await login({ ...deps, actor: actorOf(c) }, { ...body, client: clientAddress(c) });
      setSessionCookie(c, s.token, s.expiresAt);
      return c.json({ userId: s.userId, role: s.role, expiresAt: new Date(s.expiresAt).toISOString() }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/logout',
      tags: ['Auth'],
      summary: 'Ends the staff session',
      security: [{ cookieAuth: [] }],
      responses: { 204: { description: 'Logged out' }, ...errorResponses(401) },
    }),
    async (c) => {
      const p = c.get('principal');
      if (!p || p.kind !== 'user') throw new UnauthenticatedError('UNAUTHENTICATED', 'no staff session');
      await logout({ ...c.get('deps'), actor: actorOf(c) }, p.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/password',
      tags: ['Auth'],
      summary: 'Changes the staff user\'s own password: every session of the user ends, a new one is set',
      security: [{ cookieAuth: [] }],
      request: { body: jsonBody(PasswordChangeBody) },
      responses: {
        200: { description: 'Changed; the other sessions are gone and a new session cookie is set', content: { 'application/json': { schema: Me } } },
        ...errorResponses(400, 401, 403, 409, 429),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      if (!p || p.kind !== 'user') throw new UnauthenticatedError('UNAUTHENTICATED', 'no staff session');
      const body = c.req.valid('json');
      const s = await changeOwnPassword({ ...c.get('deps'), actor: actorOf(c) }, { userId: p.id, ...body, client: clientAddress(c) });
      setSessionCookie(c, s.token, s.expiresAt);
      return c.json({ userId: p.id, role: s.role, expiresAt: new Date(s.expiresAt).toISOString() }, 200);
    },
  );
