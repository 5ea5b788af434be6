import { createRoute } from '@hono/zod-openapi';
import { deleteCookie, setCookie } from 'hono/cookie';
import { createRouter, errorResponses, jsonBody, z } from '../http/openapi.js';
import { actorOf, clientAddress, isHttps } from '../http/auth.js';
import { UnauthenticatedError } from '../errors.js';
import { login, logout, SESSION_COOKIE } from './sessions.js';
import { ROLES } from '../db/schema/users.js';

const LoginBody = z
  .object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) })
  .strict()
  .openapi('LoginRequest');

const Me = z.object({ userId: z.string(), role: z.enum(ROLES), expiresAt: z.string() }).openapi('Session');

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
      setCookie(c, SESSION_COOKIE, s.token, {
        httpOnly: true,
        sameSite: 'Lax',
        secure: isHttps(c),
        path: '/',
        expires: new Date(s.expiresAt),
      });
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
    (c) => {
      const p = c.get('principal');
      if (!p || p.kind !== 'user') throw new UnauthenticatedError('UNAUTHENTICATED', 'no staff session');
      logout({ ...c.get('deps'), actor: actorOf(c) }, p.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.body(null, 204);
    },
  );
