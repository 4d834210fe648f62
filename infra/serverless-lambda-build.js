'use strict';
// A Serverless Framework plugin of the project's own: `serverless package` and `deploy` build
// the Lambda package (.build/lambda.zip, which serverless.yml names as the artifact) before
// the framework looks for it, so a fresh clone deploys with no step of its own.
//
// It runs the one build there is, `python3 dev.py lambda` (wheels for python3.12 on arm64,
// whatever this machine is), instead of serverless-python-requirements: that plugin is an npm
// package, which a fresh clone would first have to `npm install`, and it would read the
// dependencies from a requirements.txt that pyproject.toml already lists.
// Set PYTHON to the interpreter to run it with (3.11 or newer; default python3).

const { spawnSync } = require('child_process');
const path = require('path');

class LambdaBuild {
  constructor(serverless) {
    this.serverless = serverless;
    const build = () => this.build();
    this.hooks = {
      'before:package:createDeploymentArtifacts': build, // `package`, and `deploy`
      'before:package:function:package': build, // `deploy function --function F`
    };
  }

  build() {
    const python = process.env.PYTHON || (process.platform === 'win32' ? 'python' : 'python3');
    const dev = path.join(this.serverless.serviceDir, 'dev.py');
    const run = spawnSync(python, [dev, 'lambda'], {
      cwd: this.serverless.serviceDir,
      stdio: 'inherit',
    });
    if (run.error || run.status !== 0) {
      const why = run.error ? run.error.message : `exit status ${run.status}`;
      throw new this.serverless.classes.Error(
        `The Lambda package was not built (${python} dev.py lambda: ${why})`
      );
    }
  }
}

module.exports = LambdaBuild;
