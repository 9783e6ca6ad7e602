# watch: import_package_pkg.REGISTRY
# The package fills its registry while it is being imported.
import import_package_pkg

import_package_pkg.register("late")
