// Placeholder: the native addon build is added by the native-backend work. Never fails an install.
console.log('fashion-cnn: native addon not built (not part of this build yet); the wasm backend will be used');
