/**
 * The tensors of diffusers' AutoencoderKL encoder half (`encoder.*` and `quant_conv.*`), which our decoder never
 * reads but diffusers needs to load the folder. The structure (diffusers 0.21.4, `vae.py` / `unet_2d_blocks.py`):
 *
 *   encoder.conv_in            Conv2d(in_channels → C0, 3×3)
 *   encoder.down_blocks.i      DownEncoderBlock2D: layers_per_block ResnetBlock2D (no time embedding; the first
 *                              maps C(i−1) → Ci, with a 1×1 conv_shortcut when they differ), then, except in the
 *                              last block, downsamplers.0.conv: Conv2d(Ci → Ci, 3×3, stride 2)
 *   encoder.mid_block          UNetMidBlock2D: resnets.0, attentions.0 (group_norm, to_q/k/v, to_out.0, all with
 *                              bias), resnets.1, at the last width
 *   encoder.conv_norm_out      GroupNorm(C_last)
 *   encoder.conv_out           Conv2d(C_last → 2·latent_channels, 3×3) (double_z: mean and log-variance)
 *   quant_conv                 Conv2d(2·latent → 2·latent, 1×1)
 */
export function vaeEncoderTensors(config: {
  block_out_channels: readonly number[];
  layers_per_block: number;
  in_channels: number;
  latent_channels: number;
}): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  const conv = (name: string, o: number, i: number, k: number) => {
    out.set(`${name}.weight`, [o, i, k, k]);
    out.set(`${name}.bias`, [o]);
  };
  const norm = (name: string, c: number) => {
    out.set(`${name}.weight`, [c]);
    out.set(`${name}.bias`, [c]);
  };
  const linear = (name: string, o: number, i: number) => {
    out.set(`${name}.weight`, [o, i]);
    out.set(`${name}.bias`, [o]);
  };
  const resnet = (name: string, cin: number, cout: number) => {
    norm(`${name}.norm1`, cin);
    conv(`${name}.conv1`, cout, cin, 3);
    norm(`${name}.norm2`, cout);
    conv(`${name}.conv2`, cout, cout, 3);
    if (cin !== cout) conv(`${name}.conv_shortcut`, cout, cin, 1);
  };

  const channels = config.block_out_channels;
  conv('encoder.conv_in', channels[0], config.in_channels, 3);
  let previous = channels[0];
  channels.forEach((c, i) => {
    for (let j = 0; j < config.layers_per_block; j++) {
      resnet(`encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? previous : c, c);
    }
    if (i < channels.length - 1) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, c, c, 3);
    previous = c;
  });
  const last = channels[channels.length - 1];
  resnet('encoder.mid_block.resnets.0', last, last);
  const attn = 'encoder.mid_block.attentions.0';
  norm(`${attn}.group_norm`, last);
  for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(`${attn}.${p}`, last, last);
  resnet('encoder.mid_block.resnets.1', last, last);
  norm('encoder.conv_norm_out', last);
  const moments = 2 * config.latent_channels;
  conv('encoder.conv_out', moments, last, 3);
  conv('quant_conv', moments, moments, 1);
  return out;
}
