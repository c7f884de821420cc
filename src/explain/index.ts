/** explain: the pictures of a training run (curves, confusion matrix, image grids, activations). */
export { renderCurves, curvesSvg, curvesSpec, phaseBoundary, PHASE_BOUNDARY_LABEL, SPLIT_LABELS } from './curves.js';
export { renderConfusion, confusionSvg, confusionSpec } from './confusion.js';
export { renderGrid, gridPng, pickGridItems, predictionCaption, gridSize, GRID, GRID_CAPACITY, type GridItem, type Prediction } from './grid.js';
export {
  renderActivations,
  activationsPng,
  activationsLayout,
  convActivations,
  ACTIVATIONS,
  type ActivationsLayout,
  type ActivationBlock,
  type MapShape,
} from './activations.js';
export { writeRunPictures, type RunPicturesInput, type RunPictureFile } from './run-pictures.js';
export { svgToPng, vegaLiteToSvg, PNG_DENSITY, PNG_SCALE } from './render.js';
export * from './embed/index.js';
