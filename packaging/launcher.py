"""Entry script of the frozen app: the same ``resnet-lens`` command as the installed one."""

import sys

from desktop_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
