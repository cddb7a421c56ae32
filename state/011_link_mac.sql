-- 011: before-images of the interface keys mac-address/copy-mac-from and
-- accept-all-mac-addresses (issue 6, interface types and common keys): the
-- MAC ("aa:bb:cc:dd:ee:ff", NULL unknown) and IFF_PROMISC (0/1, NULL or -1
-- unknown) of a link plumbd changed but did not create, put back on prune.
ALTER TABLE owned_links ADD COLUMN before_mac TEXT;
ALTER TABLE owned_links ADD COLUMN before_promisc INTEGER;
