import { SD_COMPONENTS, type SdComponent } from './diffusersFolder.ts';
import { downloadSnapshot, type SnapshotDownloadOptions } from './hubSnapshot.ts';
import { selectPipelineFiles } from './pipelineFiles.ts';

export interface HubDownloadOptions extends SnapshotDownloadOptions {
  /** Weight variant such as `fp16`; default the plain weights. */
  variant?: string;
  /**
   * Only these components' files (plus model_index.json), e.g. `['tokenizer']` to read a prompt's
   * tokens without gigabytes of weights; default the whole pipeline.
   */
  components?: readonly SdComponent[];
}

/**
 * Makes the pipeline files of a Hub repository available in the huggingface_hub cache and returns
 * the snapshot folder, a diffusers folder holding just what the pipeline needs. Files already in the
 * snapshot cost no request; offline (HF_HUB_OFFLINE=1) only the cache is used.
 */
export async function downloadPipeline(repoId: string, options: HubDownloadOptions = {}): Promise<string> {
  const { variant } = options;
  const components = options.components ?? SD_COMPONENTS;
  return downloadSnapshot(repoId, options, {
    select: (where, repoFiles) => selectPipelineFiles(where, repoFiles, variant, components),
    // An earlier download may have fetched only some components (`dnb tokens` fetches the tokenizer).
    notInCache(present) {
      const absent = components.filter((name) => !present.some((file) => file.startsWith(`${name}/`)));
      return absent.length > 0 ? `holds no ${absent.map((name) => `${name}/`).join(', ')}` : undefined;
    },
    localAlternative: 'a local diffusers folder',
  });
}
