import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root, whatever directory jest was started from. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TEMPLATES_DIR = join(ROOT, 'templates');
export const EXAMPLES_DIR = join(ROOT, 'examples');
export const DIST_MAIN = join(ROOT, 'dist', 'main.js');
export const CLI_FIXTURES = join(ROOT, 'test', 'cli', 'fixtures');
