export * from './users.js';
export * from './sessions.js';
export * from './api-keys.js';
export * from './login-failures.js';
export * from './audit.js';
export * from './subjects.js';
export * from './purposes.js';
