/**
 * The run store: the one module that knows a run directory's files (config, history, eval,
 * checkpoint, final model, pictures' names), reads them with one behaviour each and writes them
 * atomically. Every stage reads and writes runs through it.
 */
export * from './types.js';
export { RUN_FILES, PICTURE_FILES, CHECKPOINT_FILES, runPath, isValidRunId, type RunFile, type PictureFile } from './files.js';
export { RunNotFoundError, RunFileMissingError, RunFileCorruptError, RunMismatchError, RunExistsError } from './errors.js';
export { requireRunDir, requireRunDirOrNothing, hasRunConfig, readRunConfig, readHistory, readEvalReport, isWeightAverageDecay } from './read.js';
export { createRunRecord, appendHistoryRow, rewriteHistory, recordEvaluation, type RecordEvaluationOptions } from './write.js';
export { lockRunForTraining, runLockHolder, refuseWhileTraining, withUpdateLock, RunLockedError, LOCK_TIMING, type LockHolder, type HeldLock, type TrainingLockOptions } from './lock.js';
export { followTraining, type FollowEnd } from './follow.js';
export { saveCheckpoint, loadCheckpoint, loadAveragedCheckpointModel, hasCheckpoint, checkpointDir, cleanStaleFiles, CHECKPOINT_FORMAT, WEIGHT_AVERAGE_NAMES, type LoadedCheckpoint, type NamedTensor } from './checkpoint.js';
export { locateRunModel, loadRunModel, saveRunModel, type RunModelLocation, type LoadedRunModel } from './model.js';
export { loadModelDir } from './model-dir.js';
export { listRuns, type RunListing } from './list.js';
export { ensembleRunDirs, loadEnsemble, loadEnsembleMembers, modelsDigest, type LoadedEnsemble } from './ensemble.js';
