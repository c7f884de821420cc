{
  "targets": [
    {
      "target_name": "fashion_cnn_native",
      "sources": [
        "src/addon.cc",
        "src/conv.cc",
        "src/matmul.cc",
        "src/pool.cc",
        "src/eltwise.cc",
        "src/reduce.cc",
        "src/norm.cc",
        "src/random.cc",
        "src/optim.cc",
        "src/fused.cc",
        "src/peak.cc",
        "src/first_layer.cc"
      ],
      "actions": [
        {
          "action_name": "param_layout_header",
          "inputs": ["src/param-layout.mjs", "src/param-layout.json"],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/param_layout.h"],
          "action": ["node", "src/param-layout.mjs", "header", "<(SHARED_INTERMEDIATE_DIR)/param_layout.h"]
        }
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(SHARED_INTERMEDIATE_DIR)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-ffp-contract=off", "-fno-math-errno", "<!(node -p \"process.env.FASHION_CNN_NATIVE_MARCH === undefined ? '-march=native' : (process.env.FASHION_CNN_NATIVE_MARCH ? '-march=' + process.env.FASHION_CNN_NATIVE_MARCH : '-O3')\")"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
