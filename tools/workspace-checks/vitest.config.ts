import { join } from 'node:path';
import { projectConfig } from '../../vitest.shared.ts';

const config = projectConfig(import.meta.dirname);
const test = (config as { test: { globalSetup: string[] } }).test;
// First of all, the process groups a killed earlier run left (test/support/process-groups.ts).
test.globalSetup = [join(import.meta.dirname, 'test', 'support', 'reap-leftover-groups.ts'), ...test.globalSetup];

export default config;
