// Public API of eflip. Sub-systems export from their own index files as they land.
export const VERSION = '0.1.0';
