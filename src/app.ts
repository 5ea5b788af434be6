import type { Deps } from './deps.js';
import { createRouter } from './http/openapi.js';
import { handleError, handleNotFound } from './http/errors.js';
import { authenticate } from './http/auth.js';
import { basics } from './http/basics.js';
import { systemRoutes } from './http/system-routes.js';
import { authRoutes } from './auth/routes.js';
import { apiKeyRoutes } from './auth/api-key-routes.js';
import { auditRoutes } from './audit/routes.js';
import { docsRoutes } from './web/docs.js';
import { requestRoutes } from './requests/routes.js';
import { purposeRoutes } from './consent/purpose-routes.js';
import { consentRoutes } from './consent/consent-routes.js';
import { subjectConsentRoutes } from './consent/subject-routes.js';
import { gpcRoutes } from './consent/gpc-routes.js';
import { subjectRoutes } from './subjects/routes.js';
import { connectorRoutes } from './deployment/routes.js';
import { webhookRoutes } from './webhooks/routes.js';
import { CALLBACK_BODY_LIMIT, callbackRoutes } from './callbacks/routes.js';
import { isPortalPath, portalRoutes, portalTooLarge } from './web/portal-routes.js';
import { PayloadTooLargeError } from './errors.js';
import { mailboxRoutes } from './web/mailbox-routes.js';
import { adminRoutes, adminTooLarge, isAdminPath } from './web/admin/routes.js';
import { httpMetrics, metricsRoutes } from './metrics/routes.js';

/** Routes that accept bodies above the default cap, with their own cap in bytes (`/*`: every path below). */
export const LARGE_BODY_ROUTES: Record<string, number> = {
  '/v1/consents/batch': 8 * 1024 * 1024,
  '/v1/callbacks/*': CALLBACK_BODY_LIMIT,
};

/**
 * Composes the HTTP API. Does no I/O: everything arrives in `deps`, so a test builds an app in
 * one line and drives it with `app.request()`.
 */
export function createApp(deps: Deps) {
  const app = createRouter();
  // First, so that it times everything else, the body cap and authentication included.
  app.use(httpMetrics(deps));
  app.use(basics(deps, LARGE_BODY_ROUTES));
  app.use('/v1/*', authenticate(deps));
  app.use('/metrics', authenticate(deps));
  // A form over the body limit gets the portal's or the dashboard's page in its language, not JSON.
  app.onError((err, c) => {
    if (err instanceof PayloadTooLargeError && isPortalPath(c.req.path)) return portalTooLarge(c);
    if (err instanceof PayloadTooLargeError && isAdminPath(c.req.path)) return adminTooLarge(c);
    return handleError(err, c);
  });
  app.notFound(handleNotFound);

  app.route('/', systemRoutes);
  app.route('/', metricsRoutes);
  app.route('/v1/auth', authRoutes);
  app.route('/v1/api-keys', apiKeyRoutes);
  app.route('/v1/audit', auditRoutes);
  app.route('/docs', docsRoutes);
  app.route('/v1/requests', requestRoutes);
  app.route('/v1/connectors', connectorRoutes);
  app.route('/v1/callbacks', callbackRoutes);
  app.route('/v1/purposes', purposeRoutes);
  app.route('/v1/consents', consentRoutes);
  app.route('/v1/subjects', subjectConsentRoutes);
  app.route('/v1/subjects', subjectRoutes);
  app.route('/v1/webhooks', webhookRoutes);
  app.route('/', gpcRoutes);
  app.route('/privacy', portalRoutes(deps));
  app.route('/admin', adminRoutes(deps));
  if (deps.demo) app.route('/dev/mailbox', mailboxRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'API key (oubli_sk_…), created with `oubli apikey create` or POST /v1/api-keys',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'cookieAuth', {
    type: 'apiKey',
    in: 'cookie',
    name: 'oubli_session',
    description: 'Staff session from POST /v1/auth/login',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'oubli',
      version: '0.1.0',
      description:
        'Self-hosted GDPR data-subject-rights service: consent registry, data-subject requests, verifiable audit log.',
    },
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
