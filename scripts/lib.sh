# Helpers shared by the scripts in this folder (source it; it does not run anything by itself).

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Install Debian packages; refresh the package lists and try once more if the first try fails.
apt_install() {
    echo "Installing $* with apt-get ..."
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
        {
            as_root env DEBIAN_FRONTEND=noninteractive apt-get update &&
                as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
        }
}
