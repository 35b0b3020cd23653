package runtime

// OnOwnThread is onOwnThread for the external tests (runtime_test).
var OnOwnThread = onOwnThread
