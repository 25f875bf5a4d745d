/**
 * The data module's public API: readers for CIFAR-10, SVHN, MNIST, Fashion-MNIST and image
 * folders (`loadDataset`), subsets, and the input pipeline (`BatchIterator`, `toFloatBatch`).
 */
export type { Batch, Dataset, Split } from './types.js';
export { DataFormatError, DatasetNotFoundError } from './errors.js';
export { loadDataset, canonicalName, searchDirs, type LoadOptions } from './load-dataset.js';
export { stratifiedSubset, firstPerClass, firstN, selectIndices, classCounts } from './subset.js';
export { BatchIterator, toFloatBatch, splitImageShape, PIPELINE_DEFAULTS, type PipelineOptions, type Augment } from './pipeline.js';
export { cropFlip, resolveCropFlipMethod, CROP_FLIP_DEFAULTS, type CropFlipParams, type CropFlipMethod } from './augment.js';
export { DATASETS, DATASET_NAMES, cacheRoot, datasetCacheDir, type DatasetSpec, type RemoteFile } from './known-datasets.js';
export { readCifar10, parseCifarRecords, CIFAR10_CLASSES } from './cifar10.js';
export { readSvhn, parseSvhnMat, SVHN_CLASSES } from './svhn.js';
export { readIdxDataset, FASHION_MNIST_CLASSES, MNIST_CLASSES } from './mnist.js';
export { parseIdx } from './idx.js';
export { parseMat } from './mat.js';
export { readImageFolder } from './folder.js';
export { PAPER_EPS, COLOUR_THREAT_MODEL, GREYSCALE_THREAT_MODEL, threatModelOf, isMnistFamily, type DatasetThreatModel } from './threat-model.js';
export { downloadDataset, OfflineError, DownloadError, type DownloadOptions, type DownloadedFile } from './download.js';
