import { type PipelineComponent, parseJsonObject, pipelineComponents } from './diffusersFolder.ts';
import { downloadSnapshot, type SnapshotDownloadOptions, type SnapshotTextReader } from './hubSnapshot.ts';
import { requireModelIndex, selectPipelineFiles } from './pipelineFiles.ts';

export interface HubDownloadOptions extends SnapshotDownloadOptions {
  /** Weight variant such as `fp16`; default the plain weights. */
  variant?: string;
  /**
   * Only these components' files (plus model_index.json), e.g. `['tokenizer']` to read a prompt's
   * tokens without gigabytes of weights; default the components model_index.json's pipeline class runs
   * with (`pipelineComponents`: SD 1.x/2.x or SDXL).
   */
  components?: readonly PipelineComponent[];
  /**
   * False: configs and tokenizer files only, no weights (a few MB: what a single-file checkpoint is read
   * with); default true.
   */
  weights?: boolean;
}

/**
 * Makes the pipeline files of a Hub repository available in the huggingface_hub cache and returns
 * the snapshot folder, a diffusers folder holding just what the pipeline needs. Files already in the
 * snapshot cost no request; offline (HF_HUB_OFFLINE=1) only the cache is used.
 */
export async function downloadPipeline(repoId: string, options: HubDownloadOptions = {}): Promise<string> {
  const { variant, weights } = options;
  const componentsOf = async (where: string, repoFiles: readonly string[], readText: SnapshotTextReader) => {
    if (options.components) return options.components;
    requireModelIndex(where, repoFiles);
    const indexName = `${where}/model_index.json`;
    return pipelineComponents(parseJsonObject(await readText('model_index.json'), indexName), indexName);
  };
  return downloadSnapshot(repoId, options, {
    select: async (where, repoFiles, readText) =>
      selectPipelineFiles(where, repoFiles, variant, await componentsOf(where, repoFiles, readText), {
        weights,
      }),
    // An earlier download may have fetched only some components (`dnb tokens` fetches the tokenizer).
    async notInCache(present, readText) {
      const components = await componentsOf(`cached ${repoId}`, present, readText);
      const absent = components.filter((name) => !present.some((file) => file.startsWith(`${name}/`)));
      return absent.length > 0 ? `holds no ${absent.map((name) => `${name}/`).join(', ')}` : undefined;
    },
    localAlternative: 'a local diffusers folder',
  });
}
