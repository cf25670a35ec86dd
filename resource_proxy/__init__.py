"""The resource proxy: routes API users' account-information calls to the banks that publish them."""
