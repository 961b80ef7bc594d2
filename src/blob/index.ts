/**
 * @module blob
 * Content-addressed blob store (filesystem or S3) and immutable site deploy manifests:
 * build a manifest from a folder, upload only missing blobs, collect unreferenced ones.
 */
export { type BlobStore, type BlobStat, type ByteRange, HashCheck, isBlobHash, assertBlobHash, sha256Hex } from './types.js';
export { FsBlobStore } from './fs.js';
export { S3BlobStore, type S3BlobStoreOptions } from './s3.js';
export { contentTypeFor, isCompressible } from './content-type.js';
export {
  type DeployManifest, type ManifestFile, type BuildManifestOptions, buildManifest, buildManifestWithSources,
  serializeManifest, parseManifest, validateManifest, manifestPathProblem, newDeployId, hashFile, DEFAULT_IGNORED,
} from './manifest.js';
export { uploadDeploy, type UploadOptions, type UploadProgress } from './upload.js';
export { collectGarbage, type GcOptions, type GcResult } from './gc.js';
export { openBlobStore, parseBlobUrl, BLOB_URL_FORMS, type BlobLocation } from './open.js';
export { BlobCache, type BlobCacheOptions } from './cache.js';
