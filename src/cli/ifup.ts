import { ifUpDown } from './ifupdown.js';
export default ifUpDown('ifup');
