// `node --import <this file's URL>` with MODULE_TRACE_FILE set: every module the
// process resolves is listed in that file (see module-trace-hooks.ts). Without the
// variable it does nothing, as when the test runner loads every file under dist/test.
import { register } from 'node:module';

const file = process.env.MODULE_TRACE_FILE;
if (file) register('./module-trace-hooks.js', import.meta.url, { data: { file } });
