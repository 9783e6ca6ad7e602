// Starts `spyrec dap` (the Debug Adapter Protocol on stdin/stdout) for
// debug sessions of type "spyrec". Everything else is the adapter's.
const vscode = require("vscode");

function activate(context) {
  const factory = {
    createDebugAdapterDescriptor(session) {
      const configured = vscode.workspace.getConfiguration("spyrec").get("path") || "spyrec";
      const command = session.configuration.spyrecPath || configured;
      return new vscode.DebugAdapterExecutable(command, ["dap"]);
    },
  };
  context.subscriptions.push(vscode.debug.registerDebugAdapterDescriptorFactory("spyrec", factory));
}

function deactivate() {}

module.exports = { activate, deactivate };
