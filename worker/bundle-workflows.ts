import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './create-worker';

/**
 * Child-process entry: bundles Herald's workflows into the file named by argv[2]. The worker runs
 * it in a child so webpack's memory (about 100 MB) is returned when the bundle is written.
 */
async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: bundle-workflows <output file>');
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
  await writeFile(out, code);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
