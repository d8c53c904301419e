/** The Compute Engine default service account (`<number>-compute@developer…`), or GKE's "default" alias for it: holds Editor on the project. */
export const isDefaultComputeAccount = (email: string): boolean =>
  email.trim().toLowerCase() === "default" || /^\d+-compute@developer\.gserviceaccount\.com$/i.test(email.trim());
