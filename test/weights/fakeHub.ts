import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One repository the fake Hub serves: its commit and its files. */
export interface FakeRepo {
  repoId: string;
  commit: string;
  files: Map<string, Buffer>;
}

export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface FakeHubBehaviour {
  /** Answer API and resolve requests with 401 unless this bearer token is sent. */
  requireToken?: string;
  /** With requireToken: answer like a gated repo (403 GatedRepo) instead of a private one. */
  gated?: boolean;
  /** Bytes the CDN really sends for a file, unlike what the Hub announces (size mismatch). */
  servedInstead?: Map<string, Buffer>;
  /** Drop the connection after this many bytes of a file, once per entry. */
  cutOnceAfter?: Map<string, number>;
  /** Wait this long before answering each CDN request, so that downloads of several clients overlap. */
  cdnDelayMs?: number;
}

export interface FakeHub {
  endpoint: string;
  requests: LoggedRequest[];
  behaviour: FakeHubBehaviour;
  close(): Promise<void>;
}

/** Files the Hub stores with git-lfs: their ETag is the sha256 and they redirect to a CDN. */
const isLfs = (path: string) => /\.(safetensors|bin|ckpt)$/.test(path);

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function gitBlobSha1(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.byteLength}\0`).update(data).digest('hex');
}

/**
 * A local stand-in for huggingface.co on 127.0.0.1: the revision API, resolve URLs with the Hub's
 * headers (X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size), a redirect to a "CDN" for LFS files,
 * and Range requests there.
 */
export async function startFakeHub(repos: FakeRepo[], behaviour: FakeHubBehaviour = {}): Promise<FakeHub> {
  const requests: LoggedRequest[] = [];
  const byId = new Map(repos.map((repo) => [repo.repoId, repo]));
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    try {
      route(req, res, path);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });

  const refuse = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!behaviour.requireToken || req.headers.authorization === `Bearer ${behaviour.requireToken}`)
      return false;
    const code = behaviour.gated ? 'GatedRepo' : 'RepoNotFound';
    res.writeHead(behaviour.gated ? 403 : 401, { 'x-error-code': code, 'x-error-message': code }).end();
    return true;
  };

  function route(req: IncomingMessage, res: ServerResponse, path: string): void {
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    if (api) {
      const repo = byId.get(api[1]);
      if (!repo) return void res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
      if (refuse(req, res)) return;
      if (api[2] !== 'main' && api[2] !== repo.commit) {
        return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
      }
      const siblings = [...repo.files.keys()].map((rfilename) => ({ rfilename }));
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ id: repo.repoId, sha: repo.commit, siblings }));
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolve) {
      const repo = byId.get(resolve[1]);
      if (!repo) return void res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
      if (refuse(req, res)) return;
      const data = repo.files.get(resolve[3]);
      if (!data) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
      const common = { 'x-repo-commit': repo.commit };
      if (isLfs(resolve[3])) {
        const host = req.headers.host;
        res.writeHead(302, {
          ...common,
          location: `http://${host}/cdn/${sha256(data)}`,
          'x-linked-etag': `"${sha256(data)}"`,
          'x-linked-size': String(data.byteLength),
          etag: `"${gitBlobSha1(Buffer.from('lfs pointer'))}"`,
        });
        return void res.end();
      }
      res.writeHead(200, {
        ...common,
        etag: `"${gitBlobSha1(data)}"`,
        'content-length': String(data.byteLength),
      });
      return void res.end(req.method === 'HEAD' ? undefined : data);
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      for (const repo of repos) {
        for (const [file, data] of repo.files) {
          if (sha256(data) !== cdn[1]) continue;
          const serve = () => serveBytes(req, res, file, behaviour.servedInstead?.get(file) ?? data);
          if (behaviour.cdnDelayMs) setTimeout(serve, behaviour.cdnDelayMs);
          else serve();
          return;
        }
      }
    }
    res.writeHead(404).end();
  }

  function serveBytes(req: IncomingMessage, res: ServerResponse, file: string, data: Buffer): void {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let body = data;
    if (range) {
      const start = Number(range[1]);
      if (start >= data.byteLength) {
        return void res.writeHead(416, { 'content-range': `bytes */${data.byteLength}` }).end();
      }
      body = data.subarray(start);
      res.writeHead(206, {
        'content-length': String(body.byteLength),
        'content-range': `bytes ${start}-${data.byteLength - 1}/${data.byteLength}`,
      });
    } else {
      res.writeHead(200, { 'content-length': String(body.byteLength) });
    }
    const cut = behaviour.cutOnceAfter?.get(file);
    if (cut !== undefined && req.method === 'GET') {
      behaviour.cutOnceAfter?.delete(file);
      // Give the client time to store the bytes it got before the connection drops.
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 100));
      return;
    }
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    behaviour,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
