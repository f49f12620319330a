#!/usr/bin/env node
// The installed `avatar-pipeline` command: runs the TypeScript CLI through tsx, resolved from this package, so it
// works after `npm ci` from any working directory without a build step.
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every run that it will need Node.js 22 in 2027; a command's output is no place for that.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
};

register();
await import('./main.ts');
