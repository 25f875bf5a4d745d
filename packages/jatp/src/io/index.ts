/**
 * `jatp/io`: files on disk — the atomic writer every output goes through, and the safetensors format.
 */
export { writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';
export { readSafetensors, writeSafetensors, encodeSafetensors, decodeSafetensors, type SafeFile, type SafeTensor, type SafeDtype, type TensorToWrite } from './safetensors.js';
