/** explain/embed: projections of pixels and of learned features (PCA, t-SNE, UMAP, custom), their quality, and projector files. */
export * from './types.js';
export { runEmbed, defaultEmbedOut, EMBED_FILES, METHOD_LABELS, MAX_EMBED_COUNT, DEFAULT_EMBED_COUNT, DEFAULT_EMBED_SEED, type EmbedRequest, type EmbedOutcome } from './run.js';
export { computeEmbedding, checkProjectionOptions, QUALITY_K, MIN_EMBED_POINTS, type ProjectionOptions, type EmbeddingResult } from './compute.js';
export { stratifiedSample, stratifiedQuotas } from './sample.js';
export { exactKnn, truncateKnn } from './knn.js';
export { fitPca, projectPca, explainedVariance, PCA_TOP, type PcaFit } from './pca.js';
export { perplexityAffinities, runTsne, TSNE_DEFAULTS, type SparseAffinities, type TsneOptions, type TsneResult } from './tsne.js';
export { runUmap, UMAP_DEFAULTS } from './umap.js';
export { customProjection, type CustomSpec } from './custom.js';
export { knnLabelAgreement, neighbourhoodPreserved, embedQuality } from './quality.js';
export { pixelMatrix, learnedFeatures, defaultFeatureLayer, layerNames } from './features.js';
export { scatterSpec, writeScatter } from './plot.js';
export { writeProjectorFiles, spritePng, spriteGridSide, metadataTsv, tensorsTsv, PROJECTOR_FILES } from './projector.js';
