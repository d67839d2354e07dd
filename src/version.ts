/**
 * The package version, also the notebook widgets' module version (the Python widgets ask for
 * `^<version>`). A test keeps it equal to package.json's.
 */
export const PACKAGE_VERSION = '0.1.0';
