import { LabIcon } from '@jupyterlab/ui-components';

import exprscopeSvg from '../style/icons/exprscope.svg';

export const exprscopeIcon = new LabIcon({
  name: 'exprscope:icon',
  svgstr: exprscopeSvg
});
