# watch: sys.path
# culprit-elsewhere: site.py addsitedir CALL
# culprit-elsewhere: site.py addpackage CALL
# site.addsitedir appends the dir, then the .pth file's "extra" line.
import os
import site

site.addsitedir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "site_addsitedir_pkg"))
