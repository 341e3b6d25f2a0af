"""Image hardening: lint an image (`check_image`), and run it at the Kubernetes Pod Security
Standards "restricted" level (`generate_manifests`, `check_manifests`)."""
