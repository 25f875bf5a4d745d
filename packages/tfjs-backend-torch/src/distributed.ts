/**
 * Process groups on PyTorch's distributed layer (c10d), for tensors of the 'torch' backend
 * (native/distributed.cc). Rendezvous through a TCPStore hosted by rank 0; Gloo moves CPU
 * tensors, NCCL CUDA tensors (CUDA builds only).
 *
 *   const pg = initProcessGroup();                 // RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
 *   const [avg] = pg.allReduce([grad], { op: 'mean' });
 *
 * Every collective blocks the JS thread until all ranks have joined it, and fails with an error
 * naming the dead or missing rank once `timeoutMs` has passed (a killed peer is usually reported
 * at once: its sockets close). Results are new tensors; the inputs are never modified.
 */
import * as net from 'node:net';
import * as tf from '@tensorflow/tfjs-core';

import type { TorchBackend } from './backend.js';
import { loadNative, type NativeResult, type TorchBinding } from './native.js';

export type DistributedBackendName = 'gloo' | 'nccl';

export interface DistributedStatus {
  available: boolean;
  /** Why not, when unavailable (no addon, or an addon built without c10d). */
  reason?: string;
  /** Process-group backends compiled into the addon. */
  backends: DistributedBackendName[];
}

export interface ProcessGroupOptions {
  /** Default: $RANK. */
  rank?: number;
  /** Default: $WORLD_SIZE. */
  worldSize?: number;
  /** Default: $LOCAL_RANK, else `rank` (informational: which local GPU or thread pool). */
  localRank?: number;
  /** Host of rank 0's TCPStore. Default: $MASTER_ADDR, else 127.0.0.1. */
  masterAddr?: string;
  /** Default: $MASTER_PORT, else 29500. */
  masterPort?: number;
  /**
   * Limit on rendezvous and on every collective, ms. Default: $JATP_DIST_TIMEOUT_MS, else 1 800 000
   * (PyTorch's 30 minutes: ranks also wait there while rank 0 alone evaluates or writes).
   */
  timeoutMs?: number;
  /** 'auto' (default): NCCL when tensors live on CUDA, else Gloo. */
  backend?: DistributedBackendName | 'auto';
}

/** Statistics since init: for benchmarks (communication time and volume per step). */
export interface CommStats {
  /** Tensor bytes this rank handed to collectives (a ring all-reduce sends ~2(n-1)/n of it). */
  payloadBytes: number;
  /** Seconds this rank spent blocked in collectives (includes waiting for slower ranks). */
  commSeconds: number;
  collectives: number;
}

interface DistBinding extends TorchBinding {
  distStatus?(): { available: boolean; reason?: string; backends: DistributedBackendName[] };
  distInit(o: { rank: number; worldSize: number; masterAddr: string; masterPort: number; timeoutMs: number; backend: string }): unknown;
  distAllReduce(handles: number[], preScale: number, postScale: number, bucketBytes: number): NativeResult[];
  distBroadcast(handles: number[], root: number, bucketBytes: number): NativeResult[];
  distAllGather(handle: number): NativeResult[];
  distBarrier(): void;
  distStats(): (CommStats & { rank: number; worldSize: number; backend: string }) | null;
  distDestroy(): void;
}

/** Whether process groups can be created here, and if not, why (like `torchStatus()`). */
export function distributedStatus(): DistributedStatus {
  const load = loadNative();
  if (load.binding === undefined) return { available: false, reason: `the 'torch' backend is unavailable: ${load.reason}`, backends: [] };
  const b = load.binding as DistBinding;
  if (typeof b.distStatus !== 'function') {
    return { available: false, reason: `the addon at ${load.path} predates native/distributed.cc (rebuild: npm run build:native)`, backends: [] };
  }
  const s = b.distStatus();
  return { available: s.available, ...(s.reason !== undefined ? { reason: s.reason } : {}), backends: [...s.backends] };
}

/** Default bucket size of gradient all-reduce (PyTorch DDP's default). */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

function envInt(name: string, fallback?: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`distributed: $${name} is not set (set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT as torchrun does, or pass the options)`);
  }
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`distributed: $${name}=${JSON.stringify(raw)}: expected a non-negative integer`);
  return v;
}

/** Whether the launcher's variables describe a multi-process run (WORLD_SIZE > 1). */
export function launchedDistributed(): boolean {
  const w = process.env.WORLD_SIZE;
  return w !== undefined && w !== '' && Number(w) > 1;
}

let current: ProcessGroup | undefined;

/** The process group initialised in this process, if any. */
export function currentProcessGroup(): ProcessGroup | undefined {
  return current;
}

export class ProcessGroup {
  private destroyed = false;

  private constructor(
    private readonly binding: DistBinding,
    readonly rank: number,
    readonly worldSize: number,
    readonly localRank: number,
    readonly backend: DistributedBackendName,
    readonly timeoutMs: number,
  ) {}

  /** @internal use initProcessGroup(). */
  static create(opts: ProcessGroupOptions = {}): ProcessGroup {
    const status = distributedStatus();
    if (!status.available) throw new Error(`distributed unavailable: ${status.reason}`);
    if (current !== undefined) throw new Error('distributed: a process group already exists in this process (destroy() it first)');
    const binding = loadNative().binding as DistBinding;
    const rank = opts.rank ?? envInt('RANK');
    const worldSize = opts.worldSize ?? envInt('WORLD_SIZE');
    const localRank = opts.localRank ?? envInt('LOCAL_RANK', rank);
    const masterAddr = opts.masterAddr ?? (process.env.MASTER_ADDR || '127.0.0.1');
    const masterPort = opts.masterPort ?? envInt('MASTER_PORT', 29500);
    const timeoutMs = opts.timeoutMs ?? envInt('JATP_DIST_TIMEOUT_MS', 1_800_000);
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new Error(`distributed: worldSize must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new Error(`distributed: rank ${rank} is not in [0, ${worldSize})`);
    if (!(timeoutMs > 0)) throw new Error(`distributed: timeoutMs must be positive, got ${timeoutMs}`);
    let backend = opts.backend ?? 'auto';
    if (backend === 'auto') backend = binding.device() === 'cuda' && status.backends.includes('nccl') ? 'nccl' : 'gloo';
    if (!status.backends.includes(backend)) {
      throw new Error(`distributed: backend '${backend}' is not in this addon (it has: ${status.backends.join(', ')})`);
    }
    binding.distInit({ rank, worldSize, masterAddr, masterPort, timeoutMs, backend });
    current = new ProcessGroup(binding, rank, worldSize, localRank, backend, timeoutMs);
    return current;
  }

  private torch(what: string): TorchBackend {
    if (this.destroyed) throw new Error(`distributed: ${what} after destroy()`);
    if (tf.getBackend() !== 'torch') throw new Error(`distributed: ${what} needs the 'torch' backend (active: '${tf.getBackend()}')`);
    return tf.engine().backend as unknown as TorchBackend;
  }

  private handles(b: TorchBackend, ts: readonly tf.Tensor[]): number[] {
    return ts.map((t) => b.handle({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }));
  }

  private wrap(b: TorchBackend, rs: NativeResult[]): tf.Tensor[] {
    return rs.map((r) => tf.engine().makeTensorFromTensorInfo(b.fromNative(r)));
  }

  /**
   * Element-wise reduction over ranks: the sum of `preScale * t` (default 1), divided by worldSize
   * for op 'mean'. Tensors are packed into buckets of `bucketBytes`, each reduced in place in one
   * collective, so many small gradients cost few messages.
   */
  allReduce(tensors: readonly tf.Tensor[], opts: { op?: 'sum' | 'mean'; preScale?: number; bucketBytes?: number } = {}): tf.Tensor[] {
    const b = this.torch('allReduce');
    if (tensors.length === 0) return [];
    const post = (opts.op ?? 'sum') === 'mean' ? 1 / this.worldSize : 1;
    return this.wrap(b, this.binding.distAllReduce(this.handles(b, tensors), opts.preScale ?? 1, post, opts.bucketBytes ?? DEFAULT_BUCKET_BYTES));
  }

  /** Rank `root`'s values of `tensors` on every rank (every rank passes tensors of the same shapes). */
  broadcast(tensors: readonly tf.Tensor[], root = 0, bucketBytes = DEFAULT_BUCKET_BYTES): tf.Tensor[] {
    const b = this.torch('broadcast');
    if (tensors.length === 0) return [];
    return this.wrap(b, this.binding.distBroadcast(this.handles(b, tensors), root, bucketBytes));
  }

  /** Every rank's `t`, in rank order (every rank passes the same shape). */
  allGather(t: tf.Tensor): tf.Tensor[] {
    const b = this.torch('allGather');
    return this.wrap(b, this.binding.distAllGather(this.handles(b, [t])[0]!));
  }

  barrier(): void {
    if (this.destroyed) throw new Error('distributed: barrier after destroy()');
    this.binding.distBarrier();
  }

  stats(): CommStats {
    const s = this.binding.distStats();
    return s === null ? { payloadBytes: 0, commSeconds: 0, collectives: 0 } : { payloadBytes: s.payloadBytes, commSeconds: s.commSeconds, collectives: s.collectives };
  }

  /** Releases the group (after a final barrier, so rank 0's store outlives every peer's last use). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.binding.distDestroy();
    if (current === this) current = undefined;
  }
}

/** Joins (or, on rank 0, hosts) the rendezvous and returns this process's group. */
export function initProcessGroup(opts: ProcessGroupOptions = {}): ProcessGroup {
  return ProcessGroup.create(opts);
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, released): what a local
 * launcher (`--nproc N`) hands to its workers as MASTER_PORT. Another process could take it before
 * rank 0 binds it; rendezvous then fails with the store's error instead of hanging.
 */
export async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
