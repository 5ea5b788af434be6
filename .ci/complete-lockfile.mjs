#!/usr/bin/env node
// Run after `npm install` changes package-lock.json on this workplace's npm mirror.
//
// The mirror serves only the Linux builds of rollup's per-platform optional packages, so npm
// leaves the others out of the lock file — and `npm ci` then refuses the lock as "out of sync".
// This adds the missing entries back, with the os/cpu/libc fields that make npm skip them on
// every other platform (they are never downloaded here).
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [key, meta] of Object.entries(pkgs)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const top = `node_modules/${dep}`;
    if (pkgs[top] || pkgs[`${key}/node_modules/${dep}`]) continue;
    const m = /^@rollup\/rollup-([a-z0-9]+)-([a-z0-9]+)(?:-([a-z]+))?$/.exec(dep);
    if (!m) continue;
    const [, os, cpu, abi] = m;
    const entry = { version, cpu: [cpu], license: 'MIT', optional: true, os: [os] };
    if (abi === 'gnu' || abi === 'gnueabihf') entry.libc = ['glibc'];
    if (abi === 'musl' || abi === 'musleabihf') entry.libc = ['musl'];
    if (meta.dev) entry.dev = true;
    pkgs[top] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entries added`);
