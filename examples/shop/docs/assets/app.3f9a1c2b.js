// fingerprinted: served with Cache-Control: immutable
document.documentElement.dataset.ready = 'yes';
